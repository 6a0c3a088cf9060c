"""The engine's values, limits, errors and the :class:`SeriesSource` protocol."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal, Protocol

import numpy as np
import numpy.typing as npt

__all__ = [
    "LOOKBACK_MS",
    "Labels",
    "LimitError",
    "Limits",
    "Matcher",
    "PromQLError",
    "Series",
    "SeriesSource",
    "UnsupportedError",
    "labels_key",
    "matches_all",
    "names_matching",
    "sanitize_name",
]

#: Prometheus's default lookback delta: an instant selector takes the newest sample
#: at most this old.
LOOKBACK_MS: Final = 5 * 60 * 1000

Labels = Mapping[str, str]
Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]


class PromQLError(ValueError):
    """A query Prometheus would refuse: HTTP 400, ``errorType`` ``bad_data``."""

    status = 400
    error_type = "bad_data"


class UnsupportedError(PromQLError):
    """Valid PromQL outside the subset this engine evaluates (400 naming the part)."""


class LimitError(PromQLError):
    """The query would exceed a bound (series, samples, points, time range): 422."""

    status = 422
    error_type = "execution"


@dataclass(frozen=True)
class Limits:
    """Bounds on one query; exceeding one is a :class:`LimitError` naming it."""

    #: Series one selector may select (after its matchers).
    max_series: int = 10_000
    #: Samples loaded by one query, all selectors together.
    max_samples: int = 20_000_000
    #: Output points per series of a range query (Prometheus's own limit is 11,000).
    max_points: int = 11_000
    #: Time a query may look back over (range + lookback + offset included).
    max_range_s: int = 32 * 86400
    #: Rows one SQL read may return before the query is refused.
    max_rows: int = 5_000_000
    #: Characters of PromQL accepted.
    max_query_chars: int = 10_000


_NAME_BAD: Final = re.compile(r"[^a-zA-Z0-9_:]")


def sanitize_name(name: str) -> str:
    """A Prometheus metric or label name for ``name`` (``.``, ``-`` … → ``_``)."""
    clean = _NAME_BAD.sub("_", name)
    return f"_{clean}" if not clean or clean[0].isdigit() else clean


@dataclass(frozen=True)
class Matcher:
    """One label matcher; regular expressions are anchored, as in Prometheus."""

    name: str
    op: Literal["=", "!=", "=~", "!~"]
    value: str
    _regex: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def make(cls, name: str, op: Literal["=", "!=", "=~", "!~"], value: str) -> Matcher:
        regex = None
        if op in ("=~", "!~"):
            try:
                regex = re.compile(value, re.DOTALL)
            except re.error as exc:
                raise PromQLError(f"invalid regular expression {value!r}: {exc}") from None
        return cls(name, op, value, regex)

    def matches(self, value: str) -> bool:
        """Does a label's value (``""`` when the label is absent) satisfy this?"""
        if self.op == "=":
            return value == self.value
        if self.op == "!=":
            return value != self.value
        assert self._regex is not None
        hit = self._regex.fullmatch(value) is not None
        return hit if self.op == "=~" else not hit


def matches_all(matchers: Sequence[Matcher], labels: Labels) -> bool:
    return all(m.matches(labels.get(m.name, "")) for m in matchers)


def names_matching(names: Iterable[str], matchers: Sequence[Matcher]) -> list[str]:
    """The metric names of ``names`` a selector's ``__name__`` matchers admit (its other
    matchers are for the labels)."""
    on_name = [m for m in matchers if m.name == "__name__"]
    return [n for n in names if all(m.matches(n) for m in on_name)]


def labels_key(labels: Labels) -> tuple[tuple[str, str], ...]:
    """A hashable, ordered identity of a label set (empty values are no label)."""
    return tuple(sorted((k, v) for k, v in labels.items() if v != ""))


@dataclass
class Series:
    """One series' samples: times in epoch milliseconds (ascending) and values."""

    labels: dict[str, str]
    ts: Ints
    values: Floats
    #: A counter (``rate`` adjusts for resets, extrapolation stops at zero).
    counter: bool = False


class SeriesSource(Protocol):
    """Where series come from (the hub's families, stored OTel points)."""

    def names(self, stacks: tuple[str, ...] | None) -> list[str]:
        """Every metric name this source serves to a reader of ``stacks``."""
        ...

    def series(
        self, names: Sequence[str], stacks: tuple[str, ...] | None, start_ms: int, end_ms: int
    ) -> list[dict[str, str]]:
        """The label sets (``__name__`` included) of the series of ``names`` with data
        in ``[start_ms, end_ms]`` (no samples: the metadata routes)."""
        ...

    def samples(
        self,
        names: Sequence[str],
        stacks: tuple[str, ...] | None,
        matchers: Sequence[Matcher],
        start_ms: int,
        end_ms: int,
        limits: Limits,
        *,
        spacing_ms: int | None = None,
    ) -> list[Series]:
        """Samples in ``[start_ms, end_ms]`` of the series of ``names`` matching
        ``matchers`` (a :class:`LimitError` past ``limits``). ``spacing_ms``: the query
        reads only the samples at multiples of it (:mod:`stacklens.promql.spacing`), a
        source may serve those alone."""
        ...

    def metadata(self) -> dict[str, tuple[str, str, str]]:
        """``name → (type, help, unit)`` for the names this source knows."""
        ...

    def query_started(self, selectors: Sequence[Sequence[Matcher]] = ()) -> None:
        """A query begins: what a source kept from the previous one is stale.
        ``selectors``: the matchers of each vector selector it holds (none for the
        metadata routes), for a source that reads what they ask together."""
        ...
