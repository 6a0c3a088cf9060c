"""The console's query-string filters: time range, stack/model/agent/user, refresh.

Every page's state is in its URL (shareable): ``range`` is a preset (``1h`` … ``30d``)
or ``since``/``until`` give exact times (RFC 3339 / epoch ns / ``15m``). A page's
analytics filters are built by the same function the JSON API uses. A preset is the
exact window of its length ending with the current bucket (:func:`preset_window`;
``24h`` is the API's default window), sent to that function as two instants, so a
page shows what the API returns for its ``data-since``/``data-until`` and ``step``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import urlencode

import msgspec
from fastapi import HTTPException

from stacklens.analytics.analytics_service import Analytics
from stacklens.analytics.queries import Filters
from stacklens.api.analytics_params import make_filters
from stacklens.api.timeparse import parse_time_param
from stacklens.metadata.keys import Principal

__all__ = [
    "RANGES",
    "REFRESH_CHOICES",
    "PageParams",
    "analytics_filters",
    "parse_params",
    "preset_window",
    "window_ns",
]

#: range preset → bucket width (seconds) of its time series.
RANGES: Final = {"1h": 300, "6h": 300, "24h": 3600, "7d": 21600, "30d": 86400}
#: range preset → its length (seconds).
RANGE_SECONDS: Final = {
    "1h": 3600,
    "6h": 6 * 3600,
    "24h": 86400,
    "7d": 7 * 86400,
    "30d": 30 * 86400,
}
DEFAULT_RANGE: Final = "24h"
REFRESH_CHOICES: Final = (0, 10, 30, 60, 300)
_TEXT_FIELDS: Final = ("stack", "model", "agent", "user", "level", "service", "q", "type", "by")
_MAX_TEXT: Final = 256


class PageParams(msgspec.Struct, frozen=True, kw_only=True):
    range: str = DEFAULT_RANGE
    since: str | None = None
    until: str | None = None
    stack: str | None = None
    model: str | None = None
    agent: str | None = None
    user: str | None = None
    level: str | None = None
    service: str | None = None
    q: str | None = None
    type: str | None = None
    by: str | None = None
    refresh: int = 0
    offset: int = 0

    @property
    def step(self) -> int:
        if self.since is None and self.until is None:
            return RANGES[self.range]
        return 3600

    def api_params(self, *, step: bool = True) -> dict[str, Any]:
        """The JSON API's query parameters for the same filters; the window as typed
        (a preset as a relative ``since``, which the API rounds: the page's exact
        window is its ``data-since``/``data-until``)."""
        out: dict[str, Any] = {"since": self.since or self.range}
        if self.until:
            out["until"] = self.until
        if step:
            out["step"] = self.step
        for name in ("stack", "model", "agent", "user"):
            value = getattr(self, name)
            if value:
                out[name] = value
        return out

    def query(self, **changes: Any) -> str:
        """This page's query string with ``changes`` (``None`` drops a parameter)."""
        values: dict[str, Any] = {name: getattr(self, name) for name in self.__struct_fields__}
        values.update(changes)
        defaults = PageParams()
        kept = {
            k: v for k, v in values.items() if v not in (None, "") and v != getattr(defaults, k)
        }
        return urlencode(kept)

    def as_dict(self) -> dict[str, Any]:
        return msgspec.structs.asdict(self)


def _text(params: Mapping[str, str], name: str) -> str | None:
    value = (params.get(name) or "").strip()
    if not value:
        return None
    if len(value) > _MAX_TEXT:
        raise HTTPException(400, f"{name} is too long")
    return value


def _int(params: Mapping[str, str], name: str, default: int, lo: int, hi: int) -> int:
    raw = params.get(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise HTTPException(400, f"{name} must be an integer") from None
    return min(max(value, lo), hi)


def parse_params(params: Mapping[str, str]) -> PageParams:
    """Query string → :class:`PageParams` (unknown presets fall back to 24 h)."""
    preset = params.get("range") or DEFAULT_RANGE
    refresh = _int(params, "refresh", 0, 0, 3600)
    texts = {name: _text(params, name) for name in _TEXT_FIELDS}
    return PageParams(
        range=preset if preset in RANGES else DEFAULT_RANGE,
        since=_text(params, "since"),
        until=_text(params, "until"),
        refresh=refresh if refresh in REFRESH_CHOICES else 0,
        offset=_int(params, "offset", 0, 0, 10**6),
        **texts,
    )


def preset_window(preset: str, now_ns: int) -> tuple[int, int]:
    """A preset's ``[since, until)``: exactly the preset's length, ending with the
    bucket that holds ``now`` (whole hours for hourly buckets and coarser, so the
    rollups answer) — the shape of the API's default window (the last 24 whole hours
    including the current one). A relative ``since=24h`` would instead round its start
    down and keep the end on the next hour: 25 h."""
    grain = min(RANGES[preset], 3600) * 10**9
    until = now_ns - now_ns % grain + grain
    return until - RANGE_SECONDS[preset] * 10**9, until


def analytics_filters(
    analytics: Analytics,
    principal: Principal,
    p: PageParams,
    *,
    user: bool = True,
    model: bool = True,
    step: int | None = None,
) -> Filters:
    """The API's own filter builder (hour rounding, defaults, the stack check), so
    pages and API agree. A preset is sent as its exact window (:func:`preset_window`);
    the API asked for those instants answers with the same rows."""
    since, until = p.since, p.until
    if since is None and until is None:
        start, end = preset_window(p.range, analytics.clock())
        since, until = str(start), str(end)
    return make_filters(
        analytics,
        principal,
        stack=p.stack,
        model=p.model if model else None,
        agent=p.agent,
        user=p.user if user else None,
        since=since or p.range,
        until=until,
        step=step if step is not None else p.step,
    )


def window_ns(p: PageParams, now_ns: int) -> tuple[int, int]:
    """Exact [since, until) for raw event searches (logs): no rounding."""
    try:
        since = parse_time_param(p.since or p.range, now_ns)
        until = now_ns + 1 if p.until is None else parse_time_param(p.until, now_ns)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    if since >= until:
        raise HTTPException(400, "since must be before until")
    return since, until
