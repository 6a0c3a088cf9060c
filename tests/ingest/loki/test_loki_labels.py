"""Loki label-string parsing (quoted values with Go escapes)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stacklens.ingest.loki import LabelError, format_labels, parse_labels


def test_simple_and_spacing() -> None:
    assert parse_labels('{app="x", level="info"}') == {"app": "x", "level": "info"}
    assert parse_labels(' { a = "1" ,b="2", } ') == {"a": "1", "b": "2"}
    assert parse_labels("{}") == {}


def test_escapes_and_quote_styles() -> None:
    text = (
        r'{msg="say \"hi\"\n\tback\\slash", u="caf\u00e9", x="\x41\101", raw=`C:\path`, s='
        + "'it\\'s'}"
    )
    assert parse_labels(text) == {
        "msg": 'say "hi"\n\tback\\slash',
        "u": "café",
        "x": "AA",
        "raw": "C:\\path",
        "s": "it's",
    }
    assert parse_labels('{"service.name"="api"}') == {"service.name": "api"}
    assert parse_labels('{a="}{,="}') == {"a": "}{,="}


@pytest.mark.parametrize(
    "text",
    ['app="x"', '{app="x"', "{app=x}", '{app!="x"}', '{app=~"x"}', '{app="x" b="y"}',
     r'{a="\q"}', '{a="x"} extra', '{1a="x"}', '{a="x", a="y"}', r'{a="\u12"}'],
)  # fmt: skip
def test_invalid(text: str) -> None:
    with pytest.raises(LabelError):
        parse_labels(text)


@given(
    st.dictionaries(
        st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,10}", fullmatch=True), st.text(max_size=20)
    )
)
def test_format_parse_round_trip(labels: dict[str, str]) -> None:
    assert parse_labels(format_labels(labels)) == labels
