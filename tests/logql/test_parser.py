"""The LogQL parser: the trees of the supported subset, and a clear error for the rest."""

from __future__ import annotations

import pytest

from stacklens.logql.parser import MAX_DEPTH, parse_duration_value, parse_query
from stacklens.logql.syntax import (
    BinaryOp,
    JsonParser,
    LabelFilter,
    LabelMatcher,
    LineFilter,
    LineFormat,
    LogfmtParser,
    LogQLError,
    LogQuery,
    NumberFilter,
    NumberLiteral,
    RangeAggregation,
    Unwrap,
    VectorAggregation,
    VectorLiteral,
)

MIN = 60 * 10**9


def test_selector_with_every_matcher_and_escapes() -> None:
    tree = parse_query(r'{a="x\"y", b!="", c=~"v.*", d!~`raw\d`}')
    assert tree == LogQuery(
        (
            LabelMatcher("a", "=", 'x"y'),
            LabelMatcher("b", "!=", ""),
            LabelMatcher("c", "=~", "v.*"),
            LabelMatcher("d", "!~", r"raw\d"),
        )
    )


def test_pipeline_stages() -> None:
    tree = parse_query(
        '{service="gateway"} |= "ERROR" != "debug" |~ "a|b" !~ "c" | json | logfmt '
        '| duration_ms > 5000 and latency <= 2.5s or level="error" '
        '| line_format "{{.level}}: {{ .msg }}" | json a="x.y", b'
    )
    assert isinstance(tree, LogQuery)
    assert tree.stages == (
        LineFilter("|=", "ERROR"),
        LineFilter("!=", "debug"),
        LineFilter("|~", "a|b"),
        LineFilter("!~", "c"),
        JsonParser(),
        LogfmtParser(),
        LabelFilter(
            (
                (
                    NumberFilter("duration_ms", ">", 5000.0),
                    NumberFilter("latency", "<=", 2.5, True),
                ),
                (LabelMatcher("level", "=", "error"),),
            )
        ),
        LineFormat(((True, "level"), (False, ": "), (True, "msg"))),
        JsonParser((("a", "x.y"), ("b", "b"))),
    )


def test_numeric_equality_and_comma_as_and() -> None:
    tree = parse_query('{app="auth"} | json | status_code=429, path!="x"')
    assert isinstance(tree, LogQuery)
    assert tree.stages[-1] == LabelFilter(
        ((NumberFilter("status_code", "==", 429.0), LabelMatcher("path", "!=", "x")),)
    )


def test_metric_queries() -> None:
    rate = parse_query('rate({service="gateway"} |= "ERROR" [5m])')
    assert rate == RangeAggregation(
        "rate",
        LogQuery((LabelMatcher("service", "=", "gateway"),), (LineFilter("|=", "ERROR"),)),
        5 * MIN,
    )
    summed = parse_query('sum by (level, app) (count_over_time({a="b"}[1m]))')
    assert isinstance(summed, VectorAggregation) and summed.by == ("level", "app")
    after = parse_query('sum(count_over_time({a="b"}[1m])) without (pod)')
    assert isinstance(after, VectorAggregation) and after.without == ("pod",)
    top = parse_query('topk(3, sum by (app) (bytes_over_time({a="b"}[1h])))')
    assert isinstance(top, VectorAggregation) and top.op == "topk" and top.param == 3
    unwrap = parse_query('avg_over_time({a="b"} | logfmt | unwrap duration(latency) [5m])')
    assert isinstance(unwrap, RangeAggregation)
    assert unwrap.query.unwrap == Unwrap("latency", duration=True)


def test_arithmetic_precedence_and_health_check() -> None:
    assert parse_query("vector(1)+vector(1)") == BinaryOp(
        "+", VectorLiteral(1.0), VectorLiteral(1.0)
    )
    assert parse_query("1 + 2 * 3") == BinaryOp(
        "+", NumberLiteral(1.0), BinaryOp("*", NumberLiteral(2.0), NumberLiteral(3.0))
    )
    tree = parse_query('sum(rate({a="b"}[1m])) > 0.5')
    assert isinstance(tree, BinaryOp) and tree.op == ">"


def test_go_durations() -> None:
    assert parse_duration_value("250ms") == pytest.approx(0.25)
    assert parse_duration_value("1h2m3.5s") == pytest.approx(3723.5)
    assert parse_duration_value("0") == 0.0
    assert parse_duration_value("5") is None
    assert parse_duration_value("5 s") is None


@pytest.mark.parametrize(
    ("query", "needle"),
    [
        ("", "empty"),
        ('{a="b"', "expected"),
        ('{a="b"} extra', "end of query"),
        ('{a="b"} | regexp "(?P<x>.)"', "regexp stage is not supported"),
        ('{a="b"} | label_format x=y', "label_format stage is not supported"),
        ('rate({a="b"}[5m] offset 1h)', "offset"),
        ('rate({a="b"})', "'['"),
        ('rate({a="b"}[0s])', "longer than zero"),
        ('sum_over_time({a="b"}[5m])', "unwrap"),
        ('rate({a="b"} | unwrap x [5m])', "does not take"),
        ('quantile_over_time(0.9, {a="b"}[5m])', "unsupported function"),
        ('topk(0, rate({a="b"}[1m]))', "between 1 and 10000"),
        ('{a="\\q"}', "unknown escape"),
        ("{a='b'}", "unexpected"),
        ('{a="b"} | x > foo', "a string, number or duration"),
    ],
)
def test_errors_name_the_problem(query: str, needle: str) -> None:
    with pytest.raises(LogQLError, match=None) as caught:
        parse_query(query)
    assert needle in str(caught.value)


def test_nesting_and_length_are_bounded() -> None:
    deep = "(" * (MAX_DEPTH + 5) + "1" + ")" * (MAX_DEPTH + 5)
    with pytest.raises(LogQLError, match="nests more than"):
        parse_query(deep)
    with pytest.raises(LogQLError, match="max_query_chars"):
        parse_query('{a="' + "x" * 9000 + '"}')


@pytest.mark.parametrize(
    ("pattern", "needle"),
    [
        (r"a\Z", r"'\\Z' is not supported"),
        (r"\p{L}", r"'\\p' is not supported"),
        ("(?x)a", "'(?x' is not supported"),
        ("(?#c)a", "'(?#' is not supported"),
        ("(?=a)b", "'(?=' is not supported"),
        ("(a)\\1", r"'\\1' is not supported"),
        ("(a+)+b", "repeats a repeated group"),
        ("(", "invalid regular expression"),
    ],
)
def test_regexes_the_engines_disagree_on_are_refused(pattern: str, needle: str) -> None:
    with pytest.raises(LogQLError) as caught:
        parse_query('{a=~"' + pattern.replace("\\", "\\\\") + '"}')
    assert needle in str(caught.value)


@pytest.mark.parametrize("pattern", ["(?i)a", "(?:a|b)+", "(?P<n>a)", r"\d+\.\w", "[(?x]"])
def test_regexes_both_engines_read_alike_are_taken(pattern: str) -> None:
    assert isinstance(parse_query('{a=~"' + pattern.replace("\\", "\\\\") + '"}'), LogQuery)
