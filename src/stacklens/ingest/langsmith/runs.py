"""LangSmith runs and feedback → raw events.

A run is posted when it starts (``POST /runs``, or the ``post`` half of a batch) and
patched when it ends (``PATCH /runs/{id}``, the ``patch`` half). Both SDKs send the whole
run again in the patch (name, run type, start and end time, extra, outputs), and batch
a post and its patch together when the run ends before a flush.

Counting each run once: the posts and patches of a request are merged by run id, and a
run's row (``event_id`` ``ls-<run id>``) is emitted only once its ``end_time`` is known,
so the patch that ends a run carries its tokens and nothing is counted at the start. A
run that has started but not ended gets a ``span`` row ``ls-<run id>:start`` (no tokens,
no cost: it counts nothing) so a run that never ends is still visible. A retried
request, or a second patch of an ended run, repeats ``ls-<run id>`` and is deduplicated
by the store.

Mapping: ``llm`` (and ``embedding``) runs → ``llm_call`` with the model
(``extra.metadata.ls_model_name``, ``extra.invocation_params.model`` ...) and the usage
from where the wrappers put it (``outputs.usage_metadata``, ``extra.metadata.
usage_metadata``, ``outputs.llm_output.token_usage``, LangChain's generations, or
``extra.tokens``); ``tool`` runs → ``tool_use`` (inputs are its args, hashed); every other
run type → ``span``. Inputs and outputs are content (hashed by default). Feedback →
``feedback`` on the run (``span_id``) and its trace.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, NamedTuple

import msgspec

from stacklens.ingest.otlp.semconv import to_float, to_int
from stacklens.schema import EventError, parse_timestamp

__all__ = ["Planned", "feedback_event", "plan_runs"]

_MAX_ID: Final = 100
_SESSION_KEYS: Final = ("session_id", "thread_id", "conversation_id")
_encoder = msgspec.json.Encoder()


class Planned(NamedTuple):
    events: list[dict[str, Any] | None]
    rejected: list[tuple[int, str]]


def plan_runs(operations: list[tuple[str, Any]]) -> Planned:
    """``[("post" | "patch", run), ...]`` → one event slot per operation.

    The slot of the operation that completes a run holds its row; the other operations
    of that run hold ``None`` (merged into it).
    """
    slots: list[dict[str, Any] | None] = [None] * len(operations)
    rejected: list[tuple[int, str]] = []
    merged: dict[str, dict[str, Any]] = {}
    last: dict[str, int] = {}
    for index, (_, run) in enumerate(operations):
        if not isinstance(run, dict):
            rejected.append((index, "a run must be an object"))
            continue
        run_id = run.get("id")
        if not isinstance(run_id, str) or not run_id or len(run_id) > _MAX_ID:
            rejected.append((index, f"a run needs an id of 1 to {_MAX_ID} characters"))
            continue
        into = merged.setdefault(run_id, {})
        for key, value in run.items():
            if value is not None:
                into[key] = value
        last[run_id] = index
    for run_id, run in merged.items():
        index = last[run_id]
        try:
            slots[index] = _run_event(run_id, run)
        except (ValueError, EventError) as err:
            rejected.append((index, str(err)))
    rejected.sort()
    return Planned(slots, rejected)


def _run_event(run_id: str, run: Mapping[str, Any]) -> dict[str, Any]:
    start = _time(run.get("start_time"), "start_time")
    end = _time(run.get("end_time"), "end_time")
    stamp = start if start is not None else end
    if stamp is None:
        raise ValueError("a run needs a start_time")
    run_type = run.get("run_type")
    run_type = run_type if isinstance(run_type, str) else "chain"
    extra = _object(run.get("extra"))
    metadata = _object(extra.get("metadata"))
    data: dict[str, Any] = {}
    attributes: dict[str, Any] = {"langsmith.run_type": run_type}
    ended = end is not None
    if not ended:
        event_type = "span"
        attributes["langsmith.phase"] = "started"
    elif run_type in ("llm", "embedding"):
        event_type = "llm_call"
        _llm_fields(data, run, extra, metadata)
    elif run_type == "tool":
        event_type = "tool_use"
        name = run.get("name")
        if isinstance(name, str) and name:
            data["tool"] = name
    else:
        event_type = "span"
    if ended and start is not None and end is not None and end >= start:
        data["duration_ms"] = (end - start) / 1e6
    error = run.get("error")
    if ended:
        data["success"] = not error
    if isinstance(error, str) and error:
        data["error_code"] = error.strip().splitlines()[0][:200] if error.strip() else "error"
    _content(data, run, tool=event_type == "tool_use")
    for key in ("session_name", "tags", "reference_example_id"):
        value = run.get(key)
        if value is not None:
            attributes[f"langsmith.{key}"] = value
    if metadata:
        attributes["langsmith.metadata"] = {
            k: v for k, v in metadata.items() if k != "usage_metadata"
        }
    for key, value in extra.items():
        # The SDK's runtime environment is left out: it says nothing about the call.
        if key not in ("metadata", "runtime") and value is not None:
            attributes[f"langsmith.extra.{key}"] = value
    event: dict[str, Any] = {
        "event_id": f"ls-{run_id}" if ended else f"ls-{run_id}:start",
        "timestamp": stamp,
        "event_type": event_type,
        "span_id": run_id,
        "data": data,
        "attributes": attributes,
    }
    trace_id = run.get("trace_id")
    event["trace_id"] = trace_id if isinstance(trace_id, str) and trace_id else run_id
    parent = run.get("parent_run_id")
    if isinstance(parent, str) and parent:
        event["parent_span_id"] = parent
    name = run.get("name")
    if isinstance(name, str) and name:
        event["message"] = name
    for key in _SESSION_KEYS:
        value = metadata.get(key)
        if isinstance(value, str) and value:
            event["session_id"] = value
            break
    user = metadata.get("user_id")
    if isinstance(user, str) and user:
        event["user_id"] = user
    return event


def _llm_fields(
    data: dict[str, Any], run: Mapping[str, Any], extra: Mapping[str, Any], metadata: Any
) -> None:
    params = extra.get("invocation_params")
    params = params if isinstance(params, dict) else {}
    for source in (
        metadata.get("ls_model_name"),
        params.get("model"),
        params.get("model_name"),
        metadata.get("model"),
    ):
        if isinstance(source, str) and source:
            data["model"] = source
            break
    provider = metadata.get("ls_provider")
    if isinstance(provider, str) and provider:
        data["provider"] = provider
    name = run.get("name")
    if "model" not in data and isinstance(name, str) and name.count("/") == 1:
        # No model anywhere: a run named "<provider>/<model>" (seed 001's naming).
        named_provider, named_model = name.split("/")
        if named_provider and named_model:
            data["model"] = named_model
            data.setdefault("provider", named_provider)
    outputs = run.get("outputs")
    outputs = outputs if isinstance(outputs, dict) else {}
    data.update(_usage(outputs, metadata, extra))


def _usage(outputs: Mapping[str, Any], metadata: Any, extra: Mapping[str, Any]) -> dict[str, Any]:
    """Token counts (and a cost) from the first place that has them."""
    usage_metadata = outputs.get("usage_metadata") or metadata.get("usage_metadata")
    if usage_metadata is None:
        usage_metadata = _generation_usage(outputs)
    if isinstance(usage_metadata, dict):
        fields = _langchain_usage(usage_metadata)
        if fields:
            return fields
    llm_output = outputs.get("llm_output")
    if isinstance(llm_output, dict):
        token_usage = llm_output.get("token_usage") or llm_output.get("usage")
        if isinstance(token_usage, dict):
            fields = _openai_usage(token_usage)
            if fields:
                return fields
    # Seed 001 passes {outputs, extra: {tokens: {prompt, completion}}} to RunTree.end(),
    # whose first argument is the outputs: its tokens arrive under outputs.extra.
    for holder in (extra, _object(outputs.get("extra"))):
        tokens = holder.get("tokens")
        if isinstance(tokens, dict):
            return _openai_usage(tokens)
    return {}


def _generation_usage(outputs: Mapping[str, Any]) -> Any:
    """LangChain chat models: ``generations[0][0].message.kwargs.usage_metadata``."""
    generations = outputs.get("generations")
    try:
        first = generations[0]  # type: ignore[index]
        first = first[0] if isinstance(first, list) else first
        message = first["message"]
        kwargs = message.get("kwargs", message)
        return kwargs.get("usage_metadata")
    except (TypeError, KeyError, IndexError, AttributeError):
        return None


def _langchain_usage(usage: Mapping[str, Any]) -> dict[str, Any]:
    """LangChain ``UsageMetadata``: ``input_tokens`` already includes the cache details."""
    out: dict[str, Any] = {}
    for source, target in (("input_tokens", "tokens_in"), ("output_tokens", "tokens_out")):
        count = to_int(usage.get(source))
        if count is not None:
            out[target] = count
    details_in = usage.get("input_token_details")
    if isinstance(details_in, dict):
        for source, target in (
            ("cache_read", "tokens_cache_read"),
            ("cache_creation", "tokens_cache_write"),
        ):
            count = to_int(details_in.get(source))
            if count:
                out[target] = count
    details_out = usage.get("output_token_details")
    if isinstance(details_out, dict):
        count = to_int(details_out.get("reasoning"))
        if count:
            out["tokens_reasoning"] = count
    cost = to_float(usage.get("total_cost"))
    if cost is not None:
        out["cost_usd"] = cost
    return out


def _openai_usage(usage: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for names, target in (
        (("prompt_tokens", "prompt", "input_tokens"), "tokens_in"),
        (("completion_tokens", "completion", "output_tokens"), "tokens_out"),
    ):
        for name in names:
            count = to_int(usage.get(name))
            if count is not None:
                out[target] = count
                break
    return out


def feedback_event(body: Any, received_ns: int) -> dict[str, Any]:
    """One ``POST /feedback`` body → a ``feedback`` event; raise ValueError if unusable."""
    if not isinstance(body, dict):
        raise ValueError("feedback must be a JSON object")
    key = body.get("key")
    if not isinstance(key, str) or not key:
        raise ValueError("feedback needs a key")
    feedback_id = body.get("id")
    run_id = body.get("run_id")
    if not isinstance(feedback_id, str) or not feedback_id or len(feedback_id) > _MAX_ID:
        raise ValueError(f"feedback needs an id of 1 to {_MAX_ID} characters")
    data: dict[str, Any] = {}
    attributes: dict[str, Any] = {"langsmith.feedback.key": key}
    score = body.get("score")
    if isinstance(score, bool):
        data["score"] = 1.0 if score else 0.0
    elif isinstance(score, int | float):
        data["score"] = float(score)
    elif score is not None:
        raise ValueError("feedback score must be a number or a boolean")
    value = body.get("value")
    if value is not None:
        attributes["langsmith.feedback.value"] = value
    comment = body.get("comment")
    if isinstance(comment, str) and comment:
        data["comment"] = comment
    source = body.get("feedback_source")
    if isinstance(source, dict) and isinstance(source.get("type"), str):
        attributes["langsmith.feedback.source"] = source["type"]
    stamp = _time(body.get("created_at"), "created_at") or received_ns
    event: dict[str, Any] = {
        "event_id": f"ls-fb-{feedback_id}",
        "timestamp": stamp,
        "event_type": "feedback",
        "message": key,
        "data": data,
        "attributes": attributes,
    }
    if isinstance(run_id, str) and run_id:
        event["span_id"] = run_id
    trace_id = body.get("trace_id")
    if isinstance(trace_id, str) and trace_id:
        event["trace_id"] = trace_id
    elif isinstance(run_id, str) and run_id:
        event["trace_id"] = run_id
    return event


def _content(data: dict[str, Any], run: Mapping[str, Any], *, tool: bool) -> None:
    inputs = run.get("inputs")
    outputs = run.get("outputs")
    parts: list[str] = []
    if inputs is not None:
        if tool:
            data["args"] = inputs  # hashed into args_hash, never stored
        else:
            parts.append(_text(inputs))
    if outputs is not None:
        parts.append(_text(outputs))
    if parts:
        data["content"] = "\n".join(parts)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return _encoder.encode(value).decode()
    except (TypeError, ValueError, msgspec.EncodeError):
        return str(value)


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _time(value: Any, name: str) -> int | None:
    """LangSmith times: RFC 3339, often without an offset (UTC is meant)."""
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        # Epoch milliseconds (the JS SDK's Date.now()) or seconds.
        if not 0 <= value < 10**14:
            raise ValueError(f"{name}: a number must be epoch milliseconds or seconds")
        value = int(value * 10**6) if value > 10**11 else int(value * 10**9)
    if (
        isinstance(value, str)
        and "T" in value
        and value[-1] not in "Zz"
        and "+" not in value[10:]
        and value.count("-") <= 2
    ):
        value = value + "Z"  # no offset: UTC, as the SDKs mean it
    try:
        return parse_timestamp(value)
    except EventError as err:
        raise ValueError(f"{name}: {err}") from None
