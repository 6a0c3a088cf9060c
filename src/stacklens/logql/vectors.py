"""Vector operations of metric queries: aggregations (``sum``, ``avg``, ``min``,
``max``, ``count``, ``topk``, ``bottomk`` with ``by``/``without``) and binary operators
(arithmetic and comparison filters) between vectors and scalars, step by step.

Vector to vector matches one to one on identical label sets (no ``on``/``ignoring``
in this subset); a comparison keeps the left sample where it holds, as in PromQL.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Final

from .syntax import BinaryOp, LogQLError, VectorAggregation

__all__ = ["Key", "Series", "aggregate", "binary"]

#: Labels of one series or stream, sorted by name.
Key = tuple[tuple[str, str], ...]
#: A matrix: per series, step time (ns) → value.
Series = dict[Key, dict[int, float]]
_COMPARISONS: Final = frozenset({"==", "!=", ">", ">=", "<", "<="})


def _group(key: Key, node: VectorAggregation) -> Key:
    if node.by is not None:
        wanted = set(node.by)
        return tuple((k, v) for k, v in key if k in wanted)
    if node.without is not None:
        dropped = set(node.without)
        return tuple((k, v) for k, v in key if k not in dropped)
    return ()


def aggregate(node: VectorAggregation, inner: Series, times: list[int]) -> Series:
    out: Series = defaultdict(dict)
    if node.op in ("topk", "bottomk"):
        k = node.param or 1
        for t in times:
            groups: dict[Key, list[tuple[float, Key]]] = defaultdict(list)
            for key, points in inner.items():
                if t in points:
                    groups[_group(key, node)].append((points[t], key))
            for members in groups.values():
                members.sort(key=lambda item: item[0], reverse=node.op == "topk")
                for value, key in members[:k]:
                    out[key][t] = value
        return dict(out)
    buckets: dict[Key, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for key, points in inner.items():
        group = _group(key, node)
        for t, value in points.items():
            buckets[group][t].append(value)
    for group, by_time in buckets.items():
        for t, values in by_time.items():
            if node.op == "sum":
                out[group][t] = math.fsum(values)
            elif node.op == "avg":
                out[group][t] = math.fsum(values) / len(values)
            elif node.op == "min":
                out[group][t] = min(values)
            elif node.op == "max":
                out[group][t] = max(values)
            else:
                out[group][t] = float(len(values))
    return dict(out)


def _arith(op: str, a: float, b: float) -> float | None:
    """``a op b``; ``None`` for a comparison that is false (the sample is dropped)."""
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "/":
        return a / b if b else (math.nan if a == 0 else math.copysign(math.inf, a))
    if op == "%":
        return math.fmod(a, b) if b else math.nan
    kept = {
        "==": a == b,
        "!=": a != b,
        ">": a > b,
        ">=": a >= b,
        "<": a < b,
        "<=": a <= b,
    }[op]
    return a if kept else None


def binary(node: BinaryOp, left: Series | float, right: Series | float) -> Series | float:
    if isinstance(left, float) and isinstance(right, float):
        if node.op in ("==", "!=", ">", ">=", "<", "<="):
            raise LogQLError("comparisons between scalars are not supported")
        value = _arith(node.op, left, right)
        return math.nan if value is None else value
    out: Series = {}
    if isinstance(left, float) or isinstance(right, float):
        series = right if isinstance(left, float) else left
        assert not isinstance(series, float)
        for key, points in series.items():
            kept: dict[int, float] = {}
            for t, v in points.items():
                a, b = (left, v) if isinstance(left, float) else (v, float(right))  # type: ignore[arg-type]
                result = _arith(node.op, a, b)
                if result is not None:
                    kept[t] = v if node.op in _COMPARISONS else result
            if kept:
                out[key] = kept
        return out
    # Vector to vector: one-to-one on identical label sets.
    for key, points in left.items():
        other = right.get(key)
        if other is None:
            continue
        kept = {}
        for t, v in points.items():
            if t in other:
                result = _arith(node.op, v, other[t])
                if result is not None:
                    kept[t] = result
        if kept:
            out[key] = kept
    return out
