"""A recursive-descent LogQL parser for the subset the hub answers.

No maintained LogQL parser exists for Python (PyPI has none; Loki's is Go yacc), so
this is a small one: a tokenizer and one method per grammar rule. Anything outside the
subset is a :class:`~stacklens.logql.syntax.LogQLError` naming the part, which the API
answers with a 400 (Loki answers ``parse error ...`` likewise).

Bounded: the query text is at most :data:`MAX_QUERY_CHARS`, nesting at most
:data:`MAX_DEPTH` levels, so no input makes the parser recurse or loop without end.
"""

from __future__ import annotations

import re
from typing import Final, cast

from stacklens.alerting.durations import parse_duration

from .lexer import parse_duration_value, tokenize, unquote
from .regex import compile_regex
from .syntax import (
    AggOp,
    BinaryOp,
    BinOp,
    CompareOp,
    Drop,
    Expr,
    JsonParser,
    LabelFilter,
    LabelMatcher,
    LineFilter,
    LineFormat,
    LineOp,
    LogfmtParser,
    LogQLError,
    LogQuery,
    MatchOp,
    MetricExpr,
    NumberFilter,
    NumberLiteral,
    RangeAggregation,
    RangeFn,
    Stage,
    Unwrap,
    VectorAggregation,
    VectorLiteral,
)

__all__ = ["MAX_DEPTH", "MAX_QUERY_CHARS", "parse_duration_value", "parse_query"]

MAX_QUERY_CHARS: Final = 8192
MAX_DEPTH: Final = 32

_RANGE_FNS: Final = frozenset(
    {
        "rate",
        "count_over_time",
        "bytes_over_time",
        "bytes_rate",
        "sum_over_time",
        "avg_over_time",
        "min_over_time",
        "max_over_time",
    }
)
_UNWRAP_FNS: Final = frozenset({"sum_over_time", "avg_over_time", "min_over_time", "max_over_time"})
_AGG_OPS: Final = frozenset({"sum", "avg", "min", "max", "count", "topk", "bottomk"})
_LABEL_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TEMPLATE: Final = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_TEMPLATE_LABEL: Final = re.compile(r"\s*\.([A-Za-z_][A-Za-z0-9_]*)\s*")


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)  # (kind, text, position)
        self.i = 0
        self.depth = 0

    # -- token helpers
    def peek(self, offset: int = 0) -> tuple[str, str]:
        j = self.i + offset
        if j < len(self.tokens):
            kind, value, _ = self.tokens[j]
            return kind, value
        return "end", ""

    def take(self) -> tuple[str, str]:
        token = self.peek()
        self.i += 1
        return token

    def error(self, wanted: str) -> LogQLError:
        kind, value = self.peek()
        where = self.tokens[self.i][2] if self.i < len(self.tokens) else "the end"
        shown = "end of query" if kind == "end" else repr(value[:30])
        return LogQLError(f"parse error at position {where}: expected {wanted}, found {shown}")

    def expect(self, value: str) -> None:
        if self.peek()[1] != value or self.peek()[0] not in ("op", "ident"):
            raise self.error(repr(value))
        self.i += 1

    def string(self) -> str:
        kind, value = self.peek()
        if kind != "str":
            raise self.error("a quoted string")
        self.i += 1
        return unquote(value)

    def label_name(self) -> str:
        kind, value = self.peek()
        if kind != "ident" or not _LABEL_NAME.fullmatch(value):
            raise self.error("a label name")
        self.i += 1
        return value

    def nested(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise LogQLError(f"query nests more than {MAX_DEPTH} levels")

    # -- grammar
    def query(self) -> Expr:
        if self.peek()[1] == "{" and self.peek()[0] == "op":
            result: Expr = self.log_query()
        else:
            result = self.metric(0)
        if self.peek()[0] != "end":
            raise self.error("end of query")
        return result

    def selector(self) -> tuple[LabelMatcher, ...]:
        self.expect("{")
        matchers: list[LabelMatcher] = []
        while self.peek()[1] != "}":
            name = self.label_name()
            op = self.peek()[1]
            if op not in ("=", "!=", "=~", "!~") or self.peek()[0] != "op":
                raise self.error("a matcher (=, !=, =~, !~)")
            self.i += 1
            matchers.append(_checked(LabelMatcher(name, cast(MatchOp, op), self.string())))
            if self.peek()[1] == ",":
                self.i += 1
            elif self.peek()[1] != "}":
                raise self.error("',' or '}'")
        self.expect("}")
        if not matchers:
            raise LogQLError("queries require at least one regexp or equality matcher")
        if all(_matches_empty(m) for m in matchers):
            raise LogQLError(
                "queries require at least one regexp or equality matcher that does not "
                'have an empty-compatible value. For instance, app=~".*" does not meet '
                'this requirement, but app=~".+" will'
            )
        return tuple(matchers)

    def log_query(self) -> LogQuery:
        matchers = self.selector()
        stages: list[Stage] = []
        while True:
            kind, value = self.peek()
            if kind == "op" and value in ("|=", "!=", "|~", "!~"):
                self.i += 1
                line_filter = LineFilter(cast(LineOp, value), self.string())
                if value in ("|~", "!~"):
                    compile_regex(line_filter.value)
                stages.append(line_filter)
            elif kind == "op" and value == "|":
                self.i += 1
                stages.append(self.stage())
            else:
                return LogQuery(matchers, tuple(stages))

    def stage(self) -> Stage:
        kind, value = self.peek()
        if kind == "ident" and value == "json" and self.peek(1)[1] not in _FILTER_OPS:
            self.i += 1
            return JsonParser(self.json_params())
        if kind == "ident" and value == "logfmt" and self.peek(1)[1] not in _FILTER_OPS:
            self.i += 1
            return LogfmtParser()
        if kind == "ident" and value == "line_format" and self.peek(1)[0] == "str":
            self.i += 1
            return _line_format(self.string())
        if kind == "ident" and value == "unwrap":
            self.i += 1
            if self.peek()[1] == "duration" and self.peek(1)[1] == "(":
                self.i += 2
                label = self.label_name()
                self.expect(")")
                return Unwrap(label, duration=True)
            return Unwrap(self.label_name())
        if kind == "ident" and value in ("drop", "keep") and self.peek(1)[0] == "ident":
            self.i += 1
            names = [self.label_name()]
            while self.peek()[1] == ",":
                self.i += 1
                names.append(self.label_name())
            if self.peek()[1] in ("=", "!=", "=~", "!~"):
                raise LogQLError(f"{value} with matchers is not supported, only label names")
            return Drop(tuple(names), keep=value == "keep")
        if kind == "ident" and value in _UNSUPPORTED_STAGES:
            raise LogQLError(f"the {value} stage is not supported by this hub")
        return self.label_filter()

    def json_params(self) -> tuple[tuple[str, str], ...]:
        params: list[tuple[str, str]] = []
        while self.peek()[0] == "ident" and _LABEL_NAME.fullmatch(self.peek()[1]):
            name = self.label_name()
            path = name
            if self.peek()[1] == "=":
                self.i += 1
                path = self.string()
            params.append((name, path))
            if self.peek()[1] != ",":
                break
            self.i += 1
        return tuple(params)

    def label_filter(self) -> LabelFilter:
        alternatives: list[tuple[LabelMatcher | NumberFilter, ...]] = []
        current: list[LabelMatcher | NumberFilter] = [self.label_predicate()]
        while True:
            kind, value = self.peek()
            if (kind == "ident" and value == "and") or (kind == "op" and value == ","):
                self.i += 1
                current.append(self.label_predicate())
            elif kind == "ident" and value == "or":
                self.i += 1
                alternatives.append(tuple(current))
                current = [self.label_predicate()]
            else:
                alternatives.append(tuple(current))
                return LabelFilter(tuple(alternatives))

    def label_predicate(self) -> LabelMatcher | NumberFilter:
        name = self.label_name()
        kind, op = self.peek()
        if kind != "op" or op not in _FILTER_OPS:
            raise self.error("a label filter operator")
        self.i += 1
        value_kind, value = self.peek()
        if value_kind == "str":
            if op not in ("=", "!=", "=~", "!~"):
                raise self.error("a number or duration after " + op)
            return _checked(LabelMatcher(name, cast(MatchOp, op), self.string()))
        if op in ("=~", "!~"):
            raise self.error("a quoted regular expression")
        compare = cast(CompareOp, "==" if op == "=" else op)
        sign = 1.0
        if value_kind == "op" and value == "-":
            self.i += 1
            sign = -1.0
            value_kind, value = self.peek()
        if value_kind == "num":
            self.i += 1
            return NumberFilter(name, compare, sign * float(value))
        if value_kind == "dur":
            seconds = parse_duration_value(value)
            if seconds is None:
                raise self.error("a duration like 250ms or 2s")
            self.i += 1
            return NumberFilter(name, compare, sign * seconds, duration=True)
        raise self.error("a string, number or duration")

    # -- metric queries, by precedence: comparison < additive < multiplicative
    def metric(self, level: int) -> MetricExpr:
        self.nested()
        try:
            if level == len(_PRECEDENCE):
                return self.metric_primary()
            left = self.metric(level + 1)
            while self.peek()[0] == "op" and self.peek()[1] in _PRECEDENCE[level]:
                op = cast(BinOp, self.take()[1])
                right = self.metric(level + 1)
                left = BinaryOp(op, left, right)
            return left
        finally:
            self.depth -= 1

    def metric_primary(self) -> MetricExpr:
        kind, value = self.peek()
        if kind == "num":
            self.i += 1
            return NumberLiteral(float(value))
        if kind == "op" and value == "-" and self.peek(1)[0] == "num":
            self.i += 1
            return NumberLiteral(-float(self.take()[1]))
        if kind == "op" and value == "(":
            self.i += 1
            inner = self.metric(0)
            self.expect(")")
            return inner
        if kind == "ident" and value == "vector":
            self.i += 1
            self.expect("(")
            number_kind, number = self.take()
            if number_kind != "num":
                raise LogQLError("vector() takes a number")
            self.expect(")")
            return VectorLiteral(float(number))
        if kind == "ident" and value in _RANGE_FNS:
            return self.range_aggregation()
        if kind == "ident" and value in _AGG_OPS:
            return self.vector_aggregation()
        if kind == "ident":
            raise LogQLError(f"unsupported function or expression {value[:40]!r}")
        raise self.error("a metric expression")

    def range_aggregation(self) -> RangeAggregation:
        fn = cast(RangeFn, self.take()[1])
        self.expect("(")
        wrapped = self.peek()[1] == "(" and self.peek()[0] == "op"
        if wrapped:
            self.i += 1
        query = self.log_query()
        if wrapped:
            self.expect(")")
        self.expect("[")
        kind, text = self.take()
        if kind not in ("dur", "num"):
            raise LogQLError("a range needs a duration like [5m]")
        try:
            range_ns = parse_duration(text)
        except ValueError as exc:
            raise LogQLError(str(exc)) from None
        if range_ns <= 0:
            raise LogQLError("a range must be longer than zero")
        self.expect("]")
        if self.peek()[1] == "offset":
            raise LogQLError("offset is not supported by this hub")
        self.expect(")")
        if (fn in _UNWRAP_FNS) != (query.unwrap is not None):
            if fn in _UNWRAP_FNS:
                raise LogQLError(f"{fn} needs an | unwrap stage")
            raise LogQLError(f"{fn} does not take an | unwrap stage")
        return RangeAggregation(fn, query, range_ns)

    def grouping(self) -> tuple[str, tuple[str, ...]] | None:
        kind, value = self.peek()
        if kind != "ident" or value not in ("by", "without"):
            return None
        self.i += 1
        self.expect("(")
        names: list[str] = []
        while self.peek()[1] != ")":
            names.append(self.label_name())
            if self.peek()[1] == ",":
                self.i += 1
            elif self.peek()[1] != ")":
                raise self.error("',' or ')'")
        self.expect(")")
        return value, tuple(names)

    def vector_aggregation(self) -> VectorAggregation:
        op = cast(AggOp, self.take()[1])
        grouping = self.grouping()
        self.expect("(")
        param: int | None = None
        if op in ("topk", "bottomk"):
            kind, number = self.take()
            if kind != "num" or not number.isdigit() or not 0 < int(number) <= 10_000:
                raise LogQLError(f"{op} needs a whole number k between 1 and 10000")
            param = int(number)
            self.expect(",")
        inner = self.metric(0)
        self.expect(")")
        after = self.grouping()
        if grouping is not None and after is not None:
            raise LogQLError("by/without given twice")
        grouping = grouping or after
        by = grouping[1] if grouping and grouping[0] == "by" else None
        without = grouping[1] if grouping and grouping[0] == "without" else None
        return VectorAggregation(op, inner, by=by, without=without, param=param)


_FILTER_OPS: Final = frozenset({"=", "!=", "=~", "!~", "==", ">", ">=", "<", "<="})
_UNSUPPORTED_STAGES: Final = frozenset(
    {"pattern", "regexp", "unpack", "label_format", "drop", "keep", "decolorize"}
)
_PRECEDENCE: Final = (
    frozenset({"==", "!=", ">", ">=", "<", "<="}),
    frozenset({"+", "-"}),
    frozenset({"*", "/", "%"}),
)


def _checked(matcher: LabelMatcher) -> LabelMatcher:
    if matcher.op in ("=~", "!~"):
        compile_regex(matcher.value)
    return matcher


def _matches_empty(matcher: LabelMatcher) -> bool:
    if matcher.op == "=":
        return matcher.value == ""
    if matcher.op == "!=":
        return matcher.value != ""
    matched = compile_regex(matcher.value).fullmatch("") is not None
    return matched if matcher.op == "=~" else not matched


def _line_format(template: str) -> LineFormat:
    parts: list[tuple[bool, str]] = []
    pos = 0
    for match in _TEMPLATE.finditer(template):
        if match.start() > pos:
            parts.append((False, template[pos : match.start()]))
        label = _TEMPLATE_LABEL.fullmatch(match.group(1))
        if label is None:
            raise LogQLError(
                f"line_format supports only {{{{.label}}}} references, not {match.group(0)[:40]!r}"
            )
        parts.append((True, label.group(1)))
        pos = match.end()
    if pos < len(template):
        parts.append((False, template[pos:]))
    return LineFormat(tuple(parts))


def parse_query(text: str) -> Expr:
    """LogQL text → its syntax tree; :class:`LogQLError` when unreadable/unsupported."""
    if len(text) > MAX_QUERY_CHARS:
        raise LogQLError(f"query is longer than {MAX_QUERY_CHARS} characters (max_query_chars)")
    if not text.strip():
        raise LogQLError("query is empty")
    return _Parser(text).query()
