"""Pure SQL builders of the Loki API over a :class:`~stacklens.store.dialect.Dialect`.

A stream selector becomes column predicates (``service``, ``level`` ...) or attribute
look-ups (``app``, ``namespace`` ...), the key always a parameter; a label a row lacks
is the empty string, as in Loki. Line filters that come before any ``line_format`` are
pushed down for ``log`` events, whose line is their ``message`` (``contains`` /
``regex_search``); other events' lines are rendered in Python (see
:mod:`stacklens.logql.lines`), so for them the push-down lets every row through and the
engine applies the filter exactly. Likewise a label filter after a plain ``| json``
on a field that is an event column (``duration_ms > 5000``, ``agent="oracle"``) is
pushed down for the other events, whose JSON line is made of those columns; the
engine still applies every filter, so a push-down only ever narrows the rows read.
Every statement reads only the day partitions of
its window and is bounded by a ``LIMIT``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Final, Literal

from stacklens.store.columns import EVENT_COLUMNS
from stacklens.store.dialect import Dialect, Params

from .lines import LINE_COLUMNS, PUSH_LABELS, STREAM_COLUMNS, label_column
from .syntax import (
    JsonParser,
    LabelFilter,
    LabelMatcher,
    LineFilter,
    LineFormat,
    LogfmtParser,
    NumberFilter,
    Stage,
)

__all__ = [
    "Window",
    "count_buckets_sql",
    "label_names_sql",
    "label_values_sql",
    "pushed_label_filters",
    "pushed_line_filters",
    "select_rows_sql",
    "series_sql",
    "stats_sql",
]

Statement = tuple[str, dict[str, Any]]
Direction = Literal["forward", "backward"]
#: Names /labels reports from columns (when a row in the window has them).
_NAME_COLUMNS: Final = ("stack_name", "event_type", "service", "level", "trace_id", "user_id")
_KINDS: Final = {c.name: c.kind for c in EVENT_COLUMNS}
_NUMERIC: Final = frozenset(n for n, k in _KINDS.items() if k in ("int", "float"))
_SQL_COMPARE: Final = {"==": "=", "!=": "<>", ">": ">", ">=": ">=", "<": "<", "<=": "<="}


class Window:
    """The common WHERE of every statement: time window, visible stacks, selector."""

    def __init__(
        self,
        d: Dialect,
        *,
        since_ns: int,
        until_ns: int,
        stacks: tuple[str, ...] | None,
        matchers: Sequence[LabelMatcher] = (),
    ) -> None:
        self.d, self.p = d, Params(d)
        self.source = self.p.raw_source("events", since_ns, until_ns)
        since = d.ts_from_ns(self.p("since", since_ns, "ts_ns"))
        until = d.ts_from_ns(self.p("until", until_ns, "ts_ns"))
        self.where = [f"ts >= {since}", f"ts < {until}"]
        if stacks is not None:
            self.where.append(d.in_list("stack_name", self.p("stacks", stacks, "str_list")))
        for index, matcher in enumerate(matchers):
            self.where.append(self.matcher(matcher, f"m{index}"))

    def label_expr(self, name: str, key: str) -> str:
        """The text of label ``name`` of a row ('' when absent)."""
        column = label_column(name)
        if column is not None:
            return f"coalesce({column}, '')"
        ref = self.p(f"{key}_key", self.d.json_key(name))
        return f"coalesce({self.d.json_text_at('attributes', ref)}, '')"

    def matcher(self, matcher: LabelMatcher, key: str) -> str:
        expr = self.label_expr(matcher.name, key)
        value = self.p(key, matcher.value)
        if matcher.op == "=":
            return f"{expr} = {value}"
        if matcher.op == "!=":
            return f"{expr} <> {value}"
        matched = self.d.regex_full_match(expr, value)
        return matched if matcher.op == "=~" else f"NOT {matched}"

    def clause(self) -> str:
        return " WHERE " + " AND ".join(self.where)


def pushed_line_filters(stages: Sequence[Stage]) -> list[LineFilter]:
    """The line filters that see the stored line (those before any ``line_format``)."""
    pushed: list[LineFilter] = []
    for stage in stages:
        if isinstance(stage, LineFormat):
            break
        if isinstance(stage, LineFilter):
            pushed.append(stage)
    return pushed


def pushed_label_filters(stages: Sequence[Stage]) -> list[LabelMatcher | NumberFilter]:
    """The label filters that, for a non-log event, test one of its columns: after a
    plain ``| json`` with no ``logfmt``/``line_format`` before them, single-alternative,
    on a numeric column (numeric filters) or a string column (string matchers)."""
    pushed: list[LabelMatcher | NumberFilter] = []
    parsed = False
    for stage in stages:
        if isinstance(stage, LineFormat | LogfmtParser) or (
            isinstance(stage, JsonParser) and stage.params
        ):
            break
        if isinstance(stage, JsonParser):
            parsed = True
        elif isinstance(stage, LabelFilter) and parsed and len(stage.alternatives) == 1:
            for item in stage.alternatives[0]:
                if isinstance(item, NumberFilter):
                    if item.name in _NUMERIC and not item.duration:
                        pushed.append(item)
                elif label_column(item.name) == item.name and _KINDS.get(item.name) == "string":
                    pushed.append(item)
    return pushed


#: Text JSON writes as itself unless escaped as ``\uXXXX`` (its other escapes are for
#: quotes, backslashes, ``/`` and control characters).
_VERBATIM: Final = re.compile(r"[A-Za-z0-9 _.:-]+")


def in_json_text(matcher: LabelMatcher) -> bool:
    """Whether a log line whose ``| json`` gives ``matcher``'s label its value holds
    that value as text, or a ``\\u`` escape: an ``=`` on text JSON writes as itself,
    not a number (``| json`` prints ``1e3`` as ``1000``). For a trace or agent looked
    up in 24 h of log lines, the lines that cannot match are then not read (a
    1,000-line page each, parsed in Python, where the answer had none)."""
    if matcher.op != "=" or not _VERBATIM.fullmatch(matcher.value):
        return False
    try:
        float(matcher.value)
    except ValueError:
        return True
    return False


def select_rows_sql(
    window: Window,
    line_filters: Sequence[LineFilter],
    *,
    direction: Direction,
    limit: int,
    after: tuple[int, str] | None = None,
    label_filters: Sequence[LabelMatcher | NumberFilter] = (),
    only_non_log: bool = False,
) -> Statement:
    """The rows of the window, in ``direction`` order by (ts, event_id), after the
    keyset position ``after`` (the last row of the previous page), at most ``limit``."""
    d, p = window.d, window.p
    where = list(window.where)
    is_log = ""
    if line_filters or label_filters or only_non_log:
        is_log = f"(event_type = {p('log_type', 'log')} AND message IS NOT NULL)"
    if only_non_log:
        where.append(f"NOT {is_log}")
    for index, line_filter in enumerate(line_filters):
        needle = p(f"lf{index}", line_filter.value)
        if line_filter.op in ("|=", "!="):
            test = d.contains("message", needle)
        else:
            test = d.regex_search("message", needle)
        if line_filter.op in ("!=", "!~"):
            test = f"NOT {test}"
        where.append(f"(NOT {is_log} OR {test})")
    for index, item in enumerate(label_filters):
        if isinstance(item, NumberFilter):
            value = p(f"lv{index}", item.value, "float")
            test = f"{item.name} {_SQL_COMPARE[item.op]} {value}"
        else:
            test = window.matcher(item, f"lm{index}")
        log_test = is_log
        if isinstance(item, LabelMatcher) and in_json_text(item):
            # the value comes from the line's JSON, so it is in its text (or the line
            # escapes some character: \uXXXX, then it is parsed), or from the column (a
            # field the line lacks keeps the event's own label)
            held = d.contains("message", p(f"lc{index}", item.value))
            escaped = d.contains("message", p(f"lu{index}", "\\u"))
            log_test = f"({is_log} AND ({held} OR {escaped}))"
        where.append(f"({log_test} OR {test})")
    sign, order = ("<", "DESC") if direction == "backward" else (">", "ASC")
    if after is not None:
        at = d.ts_from_ns(p("after_ts", after[0], "ts_ns"))
        key = p("after_id", after[1])
        where.append(f"(ts {sign} {at} OR (ts = {at} AND event_id {sign} {key}))")
    columns = ", ".join(
        f"{d.ts_to_ns('ts')} AS ts" if name == "ts" else name for name in LINE_COLUMNS
    )
    return (
        f"SELECT {columns} FROM {window.source} WHERE {' AND '.join(where)} "
        f"ORDER BY ts {order}, event_id {order} LIMIT {p('limit', limit, 'int')}",
        p.values,
    )


def label_names_sql(window: Window) -> Statement:
    """One row: per candidate label name, whether any row of the window has it."""
    d, p = window.d, window.p
    parts = [f"count({c}) AS {c}" for c in _NAME_COLUMNS]
    # A key's JSON value extracted only where the attributes' text holds the key (the
    # hub writes them: a plain key is never escaped): at 10 M events, a day's label
    # names took 104 -> 22 ms on DuckDB and 450 -> 191 ms on chDB.
    text = d.cast("attributes", "string")
    for name in PUSH_LABELS:
        held = d.contains(text, p(f"key_{name}", f'"{name}"'))
        parts.append(
            f"count(CASE WHEN {held} THEN {d.json_text('attributes', name)} END) AS {name}"
        )
    return f"SELECT {', '.join(parts)} FROM {window.source}{window.clause()}", p.values


def label_values_sql(window: Window, name: str, limit: int) -> Statement:
    """The distinct non-empty values of label ``name`` in the window (sorted)."""
    expr = window.label_expr(name, "label")
    where = window.clause() + f" AND {expr} <> ''"
    return (
        f"SELECT DISTINCT {expr} AS value FROM {window.source}{where} "
        f"ORDER BY value LIMIT {window.p('values_limit', limit, 'int')}",
        window.p.values,
    )


def stats_sql(window: Window) -> Statement:
    """Entries and bytes (of the stored message/attributes: an estimate) in the window."""
    d = window.d
    attributes = d.cast("attributes", "string")
    size = f"coalesce(length(message), 0) + coalesce(length({attributes}), 0)"
    return (
        f"SELECT count(*) AS entries, coalesce(sum({size}), 0) AS bytes "
        f"FROM {window.source}{window.clause()}",
        window.p.values,
    )


def series_sql(window: Window, limit: int) -> Statement:
    """The distinct stream label sets of the window (their columns and push labels),
    at most ``limit``."""
    d = window.d
    parts = [f"{c}" for c in ("stack_name", "event_type", "service", "level")]
    parts += [f"{d.json_text('attributes', name)} AS {name}" for name in PUSH_LABELS]
    return (
        f"SELECT DISTINCT {', '.join(parts)} FROM {window.source}{window.clause()} "
        f"LIMIT {window.p('series_limit', limit, 'int')}",
        window.p.values,
    )


def count_buckets_sql(
    window: Window, line_filters: Sequence[LineFilter], bucket_ns: int
) -> Statement:
    """Lines per stream and ``bucket_ns``-wide bucket, counted in the store: every row
    when there is no line filter, else the ``log`` rows the (then exact) filters keep.
    A bucket ``s`` holds the rows with ``s < ts <= s + bucket_ns`` (Loki's windows are
    closed on the right; stored times are whole microseconds, so ``ts - 1 µs``
    bucketed half-open is that)."""
    d, p = window.d, window.p
    where = list(window.where)
    if line_filters:
        where.append(f"event_type = {p('log_type', 'log')} AND message IS NOT NULL")
        for index, line_filter in enumerate(line_filters):
            needle = p(f"lf{index}", line_filter.value)
            if line_filter.op in ("|=", "!="):
                test = d.contains("message", needle)
            else:
                test = d.regex_search("message", needle)
            where.append(f"NOT {test}" if line_filter.op in ("!=", "!~") else test)
    labels = [f"coalesce({c}, '')" for c in STREAM_COLUMNS]
    labels += [f"coalesce({d.json_text('attributes', n)}, '')" for n in PUSH_LABELS]
    width = p("bucket", bucket_ns, "int")
    bucket = d.bucket_ns(d.ts_from_ns(f"{d.ts_to_ns('ts')} - 1"), width)
    names = (*STREAM_COLUMNS, *PUSH_LABELS)  # the order counting.py reads them in
    columns = ", ".join(f"{expr} AS {name}" for expr, name in zip(labels, names, strict=True))
    return (
        f"SELECT {columns}, {bucket} AS bucket, count(*) AS lines FROM {window.source} "
        f"WHERE {' AND '.join(where)} GROUP BY {', '.join(labels)}, {bucket}",
        p.values,
    )
