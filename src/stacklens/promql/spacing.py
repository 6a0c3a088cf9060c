"""Which samples a range query reads: the coarsest lattice a source may serve instead
of its own grid without changing the answer.

A range query over a week at a 1-minute step reads, of a series on the hub's 15 s
grid, only the samples at its windows' edges when every range vector feeds a function
that looks at nothing else: ``rate``/``increase``/``delta`` (first and last sample; with
both on a sample, Prometheus's extrapolation adds nothing), ``last_over_time`` and
``present_over_time``; an instant selector reads the sample at the step. With every
step, range and offset a multiple of ``S`` (and the steps on multiples of ``S``), each
edge is a multiple of ``S``: a source may sample every ``S`` instead, and read 4x less
at ``S`` = 60 s. A series that starts inside the window is the exception (its first
sample is between two edges): the hub source checks that and falls back to its grid.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any, Final

import numpy as np
import numpy.typing as npt

__all__ = ["EDGE_FUNCTIONS", "lattice_ms"]

#: range functions whose value depends only on the samples at a window's edges
EDGE_FUNCTIONS: Final = frozenset(
    {"rate", "increase", "delta", "last_over_time", "present_over_time"}
)


def _ms(delta: dt.timedelta | None) -> int:
    return 0 if delta is None else int(delta.total_seconds() * 1000)


def _walk(node: Any, spans: list[int]) -> bool:
    """Append every range and offset under ``node`` to ``spans``; False when some
    part reads samples between the edges (or is not known here)."""
    kind = type(node).__name__
    if kind in ("NumberLiteral", "StringLiteral"):
        return True
    if kind == "VectorSelector":
        spans.append(_ms(node.offset))
        return node.at is None
    if kind in ("ParenExpr", "UnaryExpr"):
        return _walk(node.expr, spans)
    if kind == "BinaryExpr":
        return _walk(node.lhs, spans) and _walk(node.rhs, spans)
    if kind == "AggregateExpr":
        param = node.param is None or _walk(node.param, spans)
        return param and _walk(node.expr, spans)
    if kind == "Call":
        ok = True
        for arg in node.args:
            if type(arg).__name__ == "MatrixSelector":
                if node.func.name not in EDGE_FUNCTIONS:
                    return False
                spans.append(_ms(arg.range))
                ok = ok and _walk(arg.vector_selector, spans)
            else:
                ok = ok and _walk(arg, spans)
        return ok
    return False  # matrix selectors outside a call, subqueries, anything new


def lattice_ms(expr: Any, steps: npt.NDArray[np.int64]) -> int | None:
    """The largest ``S`` (ms) such that every sample ``expr`` reads at ``steps`` is at
    a multiple of ``S``; ``None`` when it reads others or ``steps`` is one point."""
    if len(steps) < 2:
        return None
    spans: list[int] = [int(steps[1] - steps[0]), int(steps[0])]
    if not _walk(expr, spans):
        return None
    spacing = math.gcd(*spans)
    return spacing or None
