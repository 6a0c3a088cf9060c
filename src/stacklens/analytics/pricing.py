"""Cost of an LLM call: ``genai-prices`` (bundled data, offline) plus per-deployment
overrides.

Rules (README "Costs"):

- A client-sent ``cost_usd`` wins; the hub prices only events with a model and token
  counts and no cost, and marks what it priced (``cost_source`` attribute:
  ``override`` or ``genai-prices``) so ``stacklens prices backfill`` can recompute it.
- Overrides (``prices:`` in the prices file) take precedence over the library; keys are
  ``provider/model`` or just ``model``; values are USD per million tokens.
- ``tokens_in`` is the whole prompt, cache reads and writes included, and
  ``tokens_reasoning`` is part of ``tokens_out`` (the contract:
  :mod:`stacklens.analytics.usage_semantics`). A provider's raw usage (``data.usage``)
  is converted to it first, by its shape; the counts are never reinterpreted from
  their sizes. Cache counts larger than ``tokens_in`` break the contract; the uncached
  part is then taken as zero rather than negative.
- An unknown model is never priced at zero: the event keeps no cost, is counted here
  and in the rollups, and is listed by ``GET /api/v1/costs/unpriced``.

``genai-prices`` only fetches newer prices when ``UpdatePrices`` is started; stacklens
never starts it, so pricing never touches the network.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final, NamedTuple

import msgspec
import yaml

from stacklens.analytics.usage_semantics import apply_raw_usage

__all__ = ["COST_SOURCE_KEY", "PriceOverride", "Pricer", "load_price_overrides"]

COST_SOURCE_KEY: Final = "cost_source"
_MTOK: Final = 1_000_000


class PriceOverride(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """USD per million tokens. Cache prices default to the input price."""

    input_per_mtok: float
    output_per_mtok: float
    cache_read_per_mtok: float | None = None
    cache_write_per_mtok: float | None = None


def load_price_overrides(path: Path | None) -> dict[str, PriceOverride]:
    """``{prices: {"provider/model": {input_per_mtok: 3, output_per_mtok: 15}}}``."""
    if path is None:
        return {}
    document: Any = yaml.safe_load(path.read_text()) or {}
    raw = document.get("prices", document) if isinstance(document, Mapping) else {}
    try:
        return {
            str(name).lower(): msgspec.convert(value, PriceOverride)
            for name, value in (raw or {}).items()
        }
    except msgspec.ValidationError as exc:
        raise ValueError(f"{path}: invalid price override: {exc}") from None


_DAY_NS: Final = 86_400 * 10**9


class _Linear(NamedTuple):
    """A non-tiered model price: a per-call base and USD per million tokens."""

    base: float
    input: float
    output: float
    cache_read: float
    cache_write: float


def _calc(prices: Any, total_in: int, out: int, cache_read: int, cache_write: int) -> float:
    from genai_prices import Usage

    usage = Usage(
        input_tokens=total_in,
        output_tokens=out,
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
    )
    return round(float(prices.calc_price(usage)["total_price"]), 10)


def _split_input(tokens_in: int, cache_read: int, cache_write: int) -> tuple[int, int]:
    """(total input incl. cache, uncached input) under the contract: the cache counts
    are parts of ``tokens_in``."""
    total = max(tokens_in, cache_read + cache_write)
    return total, total - cache_read - cache_write


class Pricer:
    """Prices token usage; thread-safe; remembers which models it could not price."""

    def __init__(self, overrides: Mapping[str, PriceOverride] | None = None) -> None:
        self.overrides = {k.lower(): v for k, v in (overrides or {}).items()}
        self._lock = threading.Lock()
        self.unpriced: Counter[tuple[str, str]] = Counter()
        self._misses: set[tuple[str | None, str]] = set()
        self._rates: dict[tuple[str | None, str, int], Any] = {}

    def _override(self, provider: str | None, model: str) -> PriceOverride | None:
        key = model.lower()
        if provider:
            found = self.overrides.get(f"{provider.lower()}/{key}")
            if found is not None:
                return found
        return self.overrides.get(key)

    def source(self, provider: str | None, model: str) -> str:
        return "override" if self._override(provider, model) is not None else "genai-prices"

    def price(
        self,
        provider: str | None,
        model: str,
        *,
        tokens_in: int = 0,
        tokens_out: int = 0,
        cache_read: int = 0,
        cache_write: int = 0,
        at_ns: int | None = None,
    ) -> float | None:
        """USD for one call, or ``None`` when the model's price is unknown."""
        total_in, uncached = _split_input(tokens_in, cache_read, cache_write)
        override = self._override(provider, model)
        if override is not None:
            read = (
                override.input_per_mtok
                if override.cache_read_per_mtok is None
                else (override.cache_read_per_mtok)
            )
            write = (
                override.input_per_mtok
                if override.cache_write_per_mtok is None
                else (override.cache_write_per_mtok)
            )
            usd = (
                uncached * override.input_per_mtok
                + tokens_out * override.output_per_mtok
                + cache_read * read
                + cache_write * write
            ) / _MTOK
            return round(usd, 10)
        if (provider, model) in self._misses:
            return None
        return self._library_price(
            provider, model, (total_in, tokens_out, cache_read, cache_write), at_ns
        )

    def _library_price(
        self,
        provider: str | None,
        model: str,
        counts: tuple[int, int, int, int],
        at_ns: int | None,
    ) -> float | None:
        total_in, tokens_out, cache_read, cache_write = counts
        day = (at_ns or 0) // _DAY_NS
        key = (provider, model, day)
        rates = self._rates.get(key)
        if rates is None:
            rates = self._library_rates(provider, model, at_ns)
            with self._lock:
                if rates is None:
                    self._misses.add((provider, model))
                    return None
                if len(self._rates) > 4096:
                    self._rates.clear()
                self._rates[key] = rates
        if isinstance(rates, _Linear):
            uncached = total_in - cache_read - cache_write
            usd = (
                rates.base
                + (
                    uncached * rates.input
                    + tokens_out * rates.output
                    + cache_read * rates.cache_read
                    + cache_write * rates.cache_write
                )
                / _MTOK
            )
            return round(usd, 10)
        return _calc(rates, total_in, tokens_out, cache_read, cache_write)

    @staticmethod
    def _library_rates(provider: str | None, model: str, at_ns: int | None) -> _Linear | Any | None:
        """The model's price at that time: linear rates, or the ModelPrice itself when
        it is tiered (then every call is priced by the library)."""
        from genai_prices import Usage, calc_price

        when = dt.datetime.fromtimestamp(at_ns / 1e9, tz=dt.UTC) if at_ns else None
        probe = Usage(input_tokens=0, output_tokens=0)
        try:
            found = calc_price(probe, model, provider_id=provider, genai_request_timestamp=when)
        except LookupError:
            if provider is None:
                return None
            try:  # the provider id may be unknown to the library ("zhipu"): try by model
                found = calc_price(probe, model, genai_request_timestamp=when)
            except LookupError:
                return None
        prices = found.model_price
        if any(type(v).__name__ == "TieredPrices" for v in vars(prices).values()):
            return prices
        base = _calc(prices, 0, 0, 0, 0)
        return _Linear(
            base=base,
            input=(_calc(prices, _MTOK, 0, 0, 0) - base),
            output=(_calc(prices, 0, _MTOK, 0, 0) - base),
            cache_read=(_calc(prices, _MTOK, 0, _MTOK, 0) - base),
            cache_write=(_calc(prices, _MTOK, 0, 0, _MTOK) - base),
        )

    def apply(self, event: dict[str, Any]) -> None:
        """Set ``data.cost_usd`` on a canonical event that has a model and tokens and no
        cost; count it as unpriced when the model is unknown. A client cost wins."""
        data = event.get("data")
        if not isinstance(data, dict):
            return
        apply_raw_usage(data)  # the provider's own usage → the contract's fields
        if data.get("cost_usd") is not None:
            return
        model = data.get("model")
        if not isinstance(model, str) or not model:
            return
        # Most events (messages, tool calls, sessions) carry a model and no tokens:
        # four lookups decide it, before any list is built.
        counts = (
            data.get("tokens_in"),
            data.get("tokens_out"),
            data.get("tokens_cache_read"),
            data.get("tokens_cache_write"),
        )
        if counts[0] is None and counts[1] is None and counts[2] is None and counts[3] is None:
            return
        provider = data.get("provider")
        provider = provider if isinstance(provider, str) and provider else None
        tokens_in, tokens_out, cache_read, cache_write = (int(c or 0) for c in counts)
        cost = self.price(
            provider,
            model,
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            cache_read=cache_read,
            cache_write=cache_write,
            at_ns=event.get("timestamp"),
        )
        if cost is None:
            with self._lock:
                self.unpriced[(provider or "", model)] += 1
            return
        data["cost_usd"] = cost
        data[COST_SOURCE_KEY] = self.source(provider, model)
