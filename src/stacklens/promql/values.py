"""What an expression evaluates to over the query's steps.

Every value is evaluated at all steps at once: a scalar is one number per step, an
instant vector a list of series each with one number per step, ``NaN`` marking a step
where that series has no sample (a real ``NaN`` sample is therefore absent too).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from stacklens.promql.model import Series

__all__ = ["Matrix", "Scalar", "String", "Value", "Vector", "VectorSeries"]

Floats = npt.NDArray[np.float64]


@dataclass
class Scalar:
    values: Floats


@dataclass
class String:
    value: str


@dataclass
class VectorSeries:
    labels: dict[str, str]
    values: Floats


@dataclass
class Vector:
    series: list[VectorSeries] = field(default_factory=list)


@dataclass
class Matrix:
    """A range selector's raw samples (a function argument), evaluated at each step
    over ``[t - range_ms, t]`` shifted back by ``offset_ms``."""

    series: list[Series]
    range_ms: int
    offset_ms: int


Value = Scalar | String | Vector | Matrix
