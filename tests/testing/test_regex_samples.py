"""Random strings generated from a regex match it."""

from __future__ import annotations

import random
import re

import pytest

from stacklens.testing.regex_samples import sample


@pytest.mark.parametrize(
    "pattern",
    [
        r"sq0csp-[0-9A-Za-z\\\-_]{43}",
        r"(?:\s|=|:|\"|^)AKC[a-zA-Z0-9]{10,}(?:\s|\"|$)",
        r"(glpat|gldt)-[A-Za-z0-9_\-]{20,50}(?!\w)",
        r"\d{8,10}:[0-9A-Za-z_-]{35}",
        r"(['\"])x\1",
        r"[^abc]{3}.",
    ],
)
def test_sample_matches(pattern: str) -> None:
    rng = random.Random(1)
    for _ in range(20):
        assert re.search(pattern, sample(pattern, rng))


def test_samples_vary() -> None:
    rng = random.Random(2)
    assert len({sample(r"[a-z]{12}", rng) for _ in range(10)}) == 10


def test_impossible_pattern_raises() -> None:
    with pytest.raises(ValueError, match="no sample"):
        sample(r"a(?<=b)", random.Random(3))
