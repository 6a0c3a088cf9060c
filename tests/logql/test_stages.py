"""The log pipeline on single lines, and what a stored event is to LogQL."""

from __future__ import annotations

from typing import Any

from stacklens.logql.lines import event_labels, event_line, event_metadata
from stacklens.logql.parser import parse_query
from stacklens.logql.stages import run_stages
from stacklens.logql.syntax import LogQuery


def run(pipeline: str, line: str, labels: dict[str, str] | None = None) -> Any:
    query = parse_query('{a="b"} ' + pipeline)
    assert isinstance(query, LogQuery)
    return run_stages(line, dict(labels or {}), query.stages)


def test_json_flattens_nested_objects_and_sanitizes_keys() -> None:
    _, labels, _ = run("| json", '{"a":{"b-c":1,"d":[1]},"ok":true,"n":null,"1x":"y","f":2.5}')
    assert labels == {"a_b_c": "1", "ok": "true", "_1x": "y", "f": "2.5"}


def test_json_params_and_collisions() -> None:
    _, labels, _ = run('| json first="a.b", third="c[1]"', '{"a":{"b":"x"},"c":[0,7]}')
    assert labels == {"first": "x", "third": "7"}
    _, labels, _ = run("| json", '{"level":"warn"}', {"level": "info"})
    assert labels == {"level": "info", "level_extracted": "warn"}


def test_parser_errors_follow_loki() -> None:
    # Not JSON: kept, marked; a numeric filter lets it through, a string one does not.
    kept = run("| json | duration_ms > 5", "plain text")
    assert kept is not None and kept[1]["__error__"] == "JSONParserErr"
    assert run('| json | __error__=""', "plain text") is None
    # A missing label fails a numeric filter; a non-number marks LabelFilterErr.
    assert run("| json | duration_ms > 5", '{"x":1}') is None
    marked = run("| json | duration_ms > 5", '{"duration_ms":"slow"}')
    assert marked is not None and marked[1]["__error__"] == "LabelFilterErr"


def test_logfmt_quoted_values_and_durations() -> None:
    _, labels, _ = run("| logfmt", 'level=info msg="say \\"hi\\"" latency=1.5s flag')
    assert labels == {"level": "info", "msg": 'say "hi"', "latency": "1.5s", "flag": ""}
    assert run("| logfmt | latency > 1s", "latency=1.5s") is not None
    assert run("| logfmt | latency > 2s", "latency=1500ms") is None


def test_line_format_and_unwrap() -> None:
    line, _, _ = run('| logfmt | line_format "{{.a}}-{{.missing}}-{{ .b }}"', "a=1 b=2")
    assert line == "1--2"
    _, labels, value = run("| logfmt | unwrap ms", "ms=12.5 k=v")
    assert value == 12.5 and labels == {"k": "v"}


def test_log_event_line_is_its_message_others_are_json() -> None:
    log = {"event_type": "log", "message": "hello", "stack_name": "s", "level": "info"}
    assert event_line(log) == "hello"
    call = {
        "event_id": "e1",
        "ts": 5,
        "event_type": "llm_call",
        "stack_name": "s",
        "service": "gw",
        "duration_ms": 6000.0,
        "model": "m",
        "attributes": '{"region":"eu","model":"other"}',
    }
    assert event_line(call) == '{"model":"m","duration_ms":6000.0,"region":"eu"}'
    assert event_labels(call) == {"stack_name": "s", "event_type": "llm_call", "service": "gw"}
    pushed = {
        "event_type": "log",
        "stack_name": "s",
        "trace_id": "t",
        "attributes": '{"app":"auth","namespace":"n","other":"x"}',
    }
    assert event_labels(pushed) == {
        "stack_name": "s",
        "event_type": "log",
        "app": "auth",
        "namespace": "n",
    }
    assert event_metadata(pushed) == {"trace_id": "t"}


def test_label_filters_pushed_down_are_the_column_ones_after_a_plain_json() -> None:
    from stacklens.logql.sql import pushed_label_filters

    def pushed(pipeline: str) -> list[str]:
        query = parse_query('{a="b"} ' + pipeline)
        assert isinstance(query, LogQuery)
        return [item.name for item in pushed_label_filters(query.stages)]

    assert pushed('| json | duration_ms > 5000 | agent="x", app="y" | latency > 2s') == [
        "duration_ms",
        "agent",
    ]
    assert pushed("| duration_ms > 5000 | json") == []  # before the parser: not a field yet
    assert pushed('| json | duration_ms > 5000 or agent="x"') == []
    assert pushed("| logfmt | json | duration_ms > 5") == []
    assert pushed('| json | line_format "x" | json | duration_ms > 5') == []
    assert pushed('| json | status_code="500" | service_name="x"') == []


def test_push_label_values_that_are_not_text_read_as_the_store_reads_them() -> None:
    row = {"event_type": "x", "stack_name": "s", "attributes": '{"env":3.0,"job":true,"pod":7}'}
    assert event_labels(row) == {
        "stack_name": "s",
        "event_type": "x",
        "env": "3.0",
        "job": "true",
        "pod": "7",
    }
