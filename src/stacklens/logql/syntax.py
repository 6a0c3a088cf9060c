"""The LogQL syntax tree: what :mod:`stacklens.logql.parser` produces and the engine runs.

Log queries are a stream selector and a pipeline of stages; metric queries are range
aggregations over a log query (``count_over_time({...} |= "x" [5m])``), vector
aggregations over those, numbers, ``vector(n)`` and binary operators between them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "BinaryOp",
    "Drop",
    "Expr",
    "JsonParser",
    "LabelFilter",
    "LabelMatcher",
    "LineFilter",
    "LineFormat",
    "LogQLError",
    "LogQuery",
    "LogfmtParser",
    "MetricExpr",
    "NumberFilter",
    "NumberLiteral",
    "RangeAggregation",
    "Stage",
    "Unwrap",
    "VectorAggregation",
    "VectorLiteral",
]

MatchOp = Literal["=", "!=", "=~", "!~"]
LineOp = Literal["|=", "!=", "|~", "!~"]
CompareOp = Literal["==", "!=", ">", ">=", "<", "<="]


class LogQLError(ValueError):
    """The query cannot be read, or asks for something outside the supported subset
    (the message says which part): the API's 400."""


@dataclass(frozen=True)
class LabelMatcher:
    """``name op "value"``: in a stream selector, or a string label filter."""

    name: str
    op: MatchOp
    value: str


@dataclass(frozen=True)
class LineFilter:
    op: LineOp
    value: str


@dataclass(frozen=True)
class JsonParser:
    """``| json`` (every field, flattened) or ``| json a="x.y", b`` (only those)."""

    params: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class LogfmtParser:
    pass


@dataclass(frozen=True)
class NumberFilter:
    """``name > 5000``, ``latency >= 2s`` (``duration``: the value is a Go duration,
    compared in seconds)."""

    name: str
    op: CompareOp
    value: float
    duration: bool = False


@dataclass(frozen=True)
class LabelFilter:
    """``| a="x" and b > 5 or c!="y"``: an OR of ANDs (``and`` binds tighter, like Loki)."""

    alternatives: tuple[tuple[LabelMatcher | NumberFilter, ...], ...]


@dataclass(frozen=True)
class LineFormat:
    """``| line_format "{{.status}} {{.path}}"``: text and label references."""

    parts: tuple[tuple[bool, str], ...]  # (is a label reference, text or label name)


@dataclass(frozen=True)
class Drop:
    """``| drop __error__, pod``: these labels removed (what Grafana's log volume
    query appends), or ``| keep a, b``: only these kept."""

    names: tuple[str, ...]
    keep: bool = False


@dataclass(frozen=True)
class Unwrap:
    """``| unwrap duration_ms`` (or ``duration(latency)``): the sample value."""

    label: str
    duration: bool = False


Stage = LineFilter | JsonParser | LogfmtParser | LabelFilter | LineFormat | Drop | Unwrap


@dataclass(frozen=True)
class LogQuery:
    matchers: tuple[LabelMatcher, ...]
    stages: tuple[Stage, ...] = ()

    @property
    def unwrap(self) -> Unwrap | None:
        found = [s for s in self.stages if isinstance(s, Unwrap)]
        return found[-1] if found else None


RangeFn = Literal[
    "rate",
    "count_over_time",
    "bytes_over_time",
    "bytes_rate",
    "sum_over_time",
    "avg_over_time",
    "min_over_time",
    "max_over_time",
]
AggOp = Literal["sum", "avg", "min", "max", "count", "topk", "bottomk"]
BinOp = Literal["+", "-", "*", "/", "%", "==", "!=", ">", ">=", "<", "<="]


@dataclass(frozen=True)
class RangeAggregation:
    fn: RangeFn
    query: LogQuery
    range_ns: int


@dataclass(frozen=True)
class VectorAggregation:
    op: AggOp
    inner: MetricExpr
    by: tuple[str, ...] | None = None
    without: tuple[str, ...] | None = None
    param: int | None = None  # topk/bottomk's k


@dataclass(frozen=True)
class NumberLiteral:
    value: float


@dataclass(frozen=True)
class VectorLiteral:
    """``vector(1)``: one sample without labels at every step."""

    value: float


@dataclass(frozen=True)
class BinaryOp:
    op: BinOp
    left: MetricExpr
    right: MetricExpr


MetricExpr = RangeAggregation | VectorAggregation | NumberLiteral | VectorLiteral | BinaryOp
Expr = LogQuery | MetricExpr
