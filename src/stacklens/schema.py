"""The event contract (v1) and its normalization, under one name.

Every protocol the hub speaks (native JSON, OTLP, Loki push) decodes into *raw events*;
``normalize`` → ``privacy`` → ``to_row`` turns one into the row the spool and the store
hold. The contract lives in modules of one concept each, re-exported here so that
``from stacklens.schema import ...`` keeps working everywhere:

- :mod:`stacklens.event_fields`: event types, stack names, field names and aliases;
- :mod:`stacklens.event_rows`: the row structs, the per-event limits, ``EventError``;
- :mod:`stacklens.event_checks`: timestamps and the value checks and bounds;
- :mod:`stacklens.normalize`: ``normalize`` and ``to_row``.

Code on the hot path imports from those modules or from here alike: these are the same
objects, bound once at import.
"""

from __future__ import annotations

from stacklens.event_checks import (
    MAX_COST_USD,
    MAX_DEPTH,
    MAX_DURATION_MS,
    MAX_INT,
    MAX_SCORE,
    MAX_STATUS_CODE,
    MAX_TOKENS,
    TS_MAX_NS,
    TS_MIN_NS,
    parse_timestamp,
)
from stacklens.event_fields import (
    BOOL_DATA_FIELDS,
    CAMEL_ALIASES,
    CAMEL_DATA_ALIASES,
    DATA_FIELDS,
    EVENT_TYPES,
    FLOAT_DATA_FIELDS,
    INT_DATA_FIELDS,
    STACK_NAME_RE,
    STR_DATA_FIELDS,
    STRING_FIELDS,
)
from stacklens.event_rows import DEFAULT_LIMITS, EventError, EventRow, Limits, MaxAge, MetricRow
from stacklens.normalize import normalize, to_row

__all__ = [
    "BOOL_DATA_FIELDS",
    "CAMEL_ALIASES",
    "CAMEL_DATA_ALIASES",
    "DATA_FIELDS",
    "DEFAULT_LIMITS",
    "EVENT_TYPES",
    "FLOAT_DATA_FIELDS",
    "INT_DATA_FIELDS",
    "MAX_COST_USD",
    "MAX_DEPTH",
    "MAX_DURATION_MS",
    "MAX_INT",
    "MAX_SCORE",
    "MAX_STATUS_CODE",
    "MAX_TOKENS",
    "STACK_NAME_RE",
    "STRING_FIELDS",
    "STR_DATA_FIELDS",
    "TS_MAX_NS",
    "TS_MIN_NS",
    "EventError",
    "EventRow",
    "Limits",
    "MaxAge",
    "MetricRow",
    "normalize",
    "parse_timestamp",
    "to_row",
]
