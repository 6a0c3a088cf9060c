"""Langfuse ingestion envelopes → raw events, one slot per envelope.

``POST /api/public/ingestion`` carries ``{"batch": [{id, type, timestamp, body}, ...]}``.
:func:`plan` maps the batch to a list as long as the batch: envelope *i*'s event at
position *i*, or ``None`` where the envelope stores no row of its own (an ``sdk-log``,
an update merged into its create), or a refusal ``(i, reason)``. The answer then reports
each envelope by its id (Langfuse's 207 ``successes`` / ``errors``).

Mapping:

* ``generation-create`` (and ``embedding-create``) → ``llm_call``: model, tokens
  (:mod:`.usage`), cost (``costDetails`` / the usage object's costs, else the hub's
  pricer), ``duration_ms`` from ``startTime``/``endTime``, ``success`` from ``level``.
* ``span-create``, ``event-create``, ``agent-``/``chain-``/``retriever-``/
  ``evaluator-``/``guardrail-create`` → ``span``; ``tool-create`` → ``tool_use``.
* ``trace-create`` → a ``span`` row for the trace; its ``sessionId`` and ``userId``
  become the session and user of every observation of that trace in the request.
* ``score-create`` → ``feedback`` with ``trace_id`` (and ``span_id``: the observation).
* ``input`` / ``output`` are content (``data.content``: hashed by default); ``metadata``
  goes to attributes (through the redactor like every attribute).

Counting each call once. An observation's row has ``event_id`` ``lf-<observation id>``,
so a retried batch dedups in the store (which keeps the first row of an event id).
Updates in the same request as their create are merged into it (Langfuse's JS SDK sends
``generation.end()`` with the create when the call ends within a flush). A generation's
``llm_call`` is emitted once the call is over, that is once its ``endTime``, usage or
cost is known:

* from its create (merged with the request's updates) when that carries them (seed 001
  sends the usage with the create);
* otherwise the create is stored as a ``span`` ``lf-<id>:start`` (the model as the
  attribute ``langfuse.model``, no tokens) and the ``llm_call`` comes from the later
  update that carries the end or usage. That update rarely repeats the model (the JS
  SDK's ``end()`` does not), so such a call is counted without a model, unpriced
  unless the update carries its cost.

Every late update (no create in its request) is also stored as a ``span`` of its own
(``lf-<envelope id>``, ``langfuse.update_of`` naming the observation, its usage as
attributes, never as token columns), so what it says is kept even when the generation's
call row was already stored from its create.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, NamedTuple

import msgspec

from stacklens.schema import EventError

from .fields import content, link_trace, people, time_ns
from .usage import cost_fields, token_fields

__all__ = ["LangfuseBodyError", "Planned", "envelope_ids", "parse_batch", "plan"]

#: ``<kind>-create`` types whose observations become rows, and their event type.
_OBSERVATION_TYPES: Final = {
    "generation": "llm_call",
    "embedding": "llm_call",
    "span": "span",
    "event": "span",
    "agent": "span",
    "chain": "span",
    "retriever": "span",
    "evaluator": "span",
    "guardrail": "span",
    "tool": "tool_use",
}
#: Kinds that may be updated (``<kind>-update``).
_UPDATABLE: Final = frozenset({"generation", "span", "observation"})
_OTHER_TYPES: Final = frozenset({"trace-create", "score-create", "sdk-log"})
_MAX_ID: Final = 120  # event ids are at most 128 characters; "lf-" comes first


class LangfuseBodyError(ValueError):
    """The request body is not a Langfuse ingestion batch (400 for the whole request)."""


class Planned(NamedTuple):
    #: One slot per envelope: its raw event, or ``None`` (no row of its own, or refused).
    events: list[dict[str, Any] | None]
    rejected: list[tuple[int, str]]
    #: ``(envelope position, event)`` for a second row of one envelope (a late update
    #: that completes a generation: the call, and the update itself).
    extra: list[tuple[int, dict[str, Any]]]


def parse_batch(body: bytes) -> list[Any]:
    """The ``batch`` list of an ingestion body; raise LangfuseBodyError otherwise."""
    try:
        document = msgspec.json.decode(body)
    except (msgspec.DecodeError, ValueError, RecursionError) as err:
        raise LangfuseBodyError(f"invalid JSON: {err}"[:300]) from None
    if not isinstance(document, dict) or not isinstance(document.get("batch"), list):
        raise LangfuseBodyError('the body must be an object {"batch": [envelope, ...]}')
    batch: list[Any] = document["batch"]
    return batch


def envelope_ids(batch: list[Any]) -> list[str]:
    """Each envelope's id as the answer reports it (its position when it has none)."""
    ids: list[str] = []
    for index, envelope in enumerate(batch):
        value = envelope.get("id") if isinstance(envelope, dict) else None
        ids.append(value if isinstance(value, str) and value else f"#{index}")
    return ids


class _Envelope(NamedTuple):
    position: int
    id: str
    kind: str  # "generation", "trace", ...
    action: str  # "create", "update", or "" (score, sdk-log)
    timestamp: Any
    body: dict[str, Any]


def plan(batch: list[Any]) -> Planned:
    """Map a batch of envelopes to one event slot each (see the module docstring)."""
    slots: list[dict[str, Any] | None] = [None] * len(batch)
    rejected: list[tuple[int, str]] = []
    envelopes: list[_Envelope] = []
    for index, raw in enumerate(batch):
        try:
            envelopes.append(_envelope(index, raw))
        except ValueError as err:
            rejected.append((index, str(err)))
    traces = _traces(envelopes)
    # Observations: the create (or, without one, each update alone), updates merged in.
    creates: dict[str, _Envelope] = {}
    for env in envelopes:
        if env.action == "create" and env.kind != "trace":
            creates.setdefault(_observation_id(env), env)
    merged: dict[str, dict[str, Any]] = {}
    for env in envelopes:
        if env.action == "create" and env.kind != "trace":
            oid = _observation_id(env)
            if creates[oid] is env:
                merged[oid] = dict(env.body)
            else:  # a repeated create: an upsert, merged like an update
                _merge(merged.setdefault(oid, {}), env.body)
    for env in envelopes:
        if env.action == "update" and _observation_id(env) in creates:
            _merge(merged[_observation_id(env)], env.body)
    extra: list[tuple[int, dict[str, Any]]] = []
    for env in envelopes:
        try:
            events = _events(env, creates, merged, traces)
        except (ValueError, EventError) as err:
            rejected.append((env.position, str(err)))
            continue
        if events:
            slots[env.position] = events[0]
            extra += [(env.position, event) for event in events[1:]]
    rejected.sort()
    return Planned(slots, rejected, extra)


def _envelope(index: int, raw: Any) -> _Envelope:
    if not isinstance(raw, dict):
        raise ValueError("an envelope must be an object {id, type, timestamp, body}")
    envelope_id = raw.get("id")
    if not isinstance(envelope_id, str) or not envelope_id or len(envelope_id) > _MAX_ID:
        raise ValueError(f"envelope id must be a string of 1 to {_MAX_ID} characters")
    kind_type = raw.get("type")
    if not isinstance(kind_type, str):
        raise ValueError("envelope type must be a string")
    body = raw.get("body")
    if not isinstance(body, dict):
        raise ValueError("envelope body must be an object")
    kind, _, action = kind_type.rpartition("-")
    known = (
        kind_type in _OTHER_TYPES
        or (action == "create" and (kind in _OBSERVATION_TYPES or kind == "observation"))
        or (action == "update" and kind in _UPDATABLE)
    )
    if not known:
        raise ValueError(f"unknown envelope type {kind_type[:40]!r}")
    if kind_type in ("score-create", "sdk-log"):
        kind, action = kind_type, ""
    if kind not in ("score-create", "sdk-log"):
        oid = body.get("id")
        if not isinstance(oid, str) or not oid or len(oid) > _MAX_ID:
            raise ValueError(f"{kind_type} body needs an id of 1 to {_MAX_ID} characters")
    return _Envelope(index, envelope_id, kind, action, raw.get("timestamp"), body)


def _observation_id(env: _Envelope) -> str:
    oid: str = env.body["id"]
    return oid


def _merge(into: dict[str, Any], update: Mapping[str, Any]) -> None:
    for key, value in update.items():
        if value is not None:
            into[key] = value


def _traces(envelopes: list[_Envelope]) -> dict[str, dict[str, Any]]:
    """Trace id → its merged body (trace-create is an upsert: later values win)."""
    traces: dict[str, dict[str, Any]] = {}
    for env in envelopes:
        if env.kind == "trace":
            _merge(traces.setdefault(env.body["id"], {}), env.body)
    return traces


def _events(
    env: _Envelope,
    creates: dict[str, _Envelope],
    merged: dict[str, dict[str, Any]],
    traces: dict[str, dict[str, Any]],
) -> list[dict[str, Any]]:
    """The rows of one envelope: none, one, or (a late update completing a generation)
    the call and the update."""
    if env.kind == "sdk-log":
        return []
    if env.kind == "score-create":
        return [_score(env, traces)]
    if env.kind == "trace":
        return [_trace(env)]
    oid = _observation_id(env)
    if env.action == "update" and oid in creates:
        return []  # merged into its create's row
    if env.action == "create":
        if creates[oid] is not env:
            return []  # a repeated create, merged into the first
        body = merged[oid]
        if _is_call(env, body) and not _complete(body):
            return [_observation(env, body, traces, role="start")]
        return [_observation(env, body, traces, role="row")]
    update = _observation(env, env.body, traces, role="update")
    if _is_call(env, env.body) and _complete(env.body):
        return [_observation(env, env.body, traces, role="row"), update]
    return [update]


def _is_call(env: _Envelope, body: Mapping[str, Any]) -> bool:
    return _OBSERVATION_TYPES[_kind_of(env, body)] == "llm_call"


def _complete(body: Mapping[str, Any]) -> bool:
    """A generation whose call is over: its end or its usage is known."""
    return any(
        body.get(key) is not None for key in ("endTime", "usage", "usageDetails", "costDetails")
    )


def _kind_of(env: _Envelope, body: Mapping[str, Any]) -> str:
    if env.kind != "observation":
        return env.kind
    declared = body.get("type")  # the legacy observation-create carries SPAN/GENERATION/EVENT
    kind = declared.lower() if isinstance(declared, str) else "span"
    return kind if kind in _OBSERVATION_TYPES else "span"


def _observation(
    env: _Envelope, body: Mapping[str, Any], traces: dict[str, dict[str, Any]], *, role: str
) -> dict[str, Any]:
    """``role``: ``row`` (the observation's own row, ``lf-<id>``), ``start`` (a generation
    not over yet: a span ``lf-<id>:start``) or ``update`` (a late update's span)."""
    late = role == "update"
    kind = _kind_of(env, body)
    oid = _observation_id(env)
    start = time_ns(body.get("startTime"), "startTime")
    end = time_ns(body.get("endTime"), "endTime")
    stamp = start if start is not None else time_ns(env.timestamp, "timestamp")
    if late and end is not None:
        stamp = end
    if stamp is None:
        raise ValueError(f"{kind}-{env.action} has no startTime nor envelope timestamp")
    data: dict[str, Any] = {}
    attributes: dict[str, Any] = {"langfuse.observation.type": kind}
    if start is not None and end is not None and end >= start:
        data["duration_ms"] = (end - start) / 1e6
    level = body.get("level")
    if isinstance(level, str):
        attributes["langfuse.level"] = level
        if level == "ERROR":
            data["success"] = False
            message = body.get("statusMessage")
            if isinstance(message, str) and message:
                data["error_code"] = message[:200]
        elif end is not None or kind == "event":
            data["success"] = True
    elif end is not None:
        data["success"] = True
    model = body.get("model")
    if isinstance(model, str) and model:
        data["model"] = model
    tokens = token_fields(body.get("usageDetails"), body.get("usage"))
    cost = cost_fields(body.get("costDetails"), body.get("usage"))
    event_type = _OBSERVATION_TYPES[kind]
    if role != "row":
        # Not a call: its usage is kept as attributes, outside the token sums.
        event_type = "span"
        if late:
            attributes["langfuse.update_of"] = oid
        else:
            attributes["langfuse.phase"] = "started"
        attributes.update({f"langfuse.{k}": v for k, v in {**tokens, **cost}.items()})
        data.pop("model", None)
        if model:
            attributes["langfuse.model"] = model
    elif event_type == "llm_call":
        data.update(tokens)
        data.update(cost)
    if event_type == "tool_use" and isinstance(body.get("name"), str):
        data["tool"] = body["name"]
    content(data, body)
    for key in ("metadata", "modelParameters", "environment", "version", "promptName"):
        value = body.get(key)
        if value is not None:
            attributes[f"langfuse.{key}"] = value
    event: dict[str, Any] = {
        "event_id": {"row": f"lf-{oid}", "start": f"lf-{oid}:start"}.get(role, f"lf-{env.id}"),
        "timestamp": stamp,
        "event_type": event_type,
        "span_id": oid,
        "data": data,
        "attributes": attributes,
    }
    name = body.get("name")
    if isinstance(name, str) and name:
        event["message"] = name
    parent = body.get("parentObservationId")
    if isinstance(parent, str) and parent:
        event["parent_span_id"] = parent
    link_trace(event, body.get("traceId"), traces)
    return event


def _trace(env: _Envelope) -> dict[str, Any]:
    body = env.body
    stamp = time_ns(body.get("timestamp"), "timestamp") or time_ns(env.timestamp, "timestamp")
    if stamp is None:
        raise ValueError("trace-create has no timestamp")
    data: dict[str, Any] = {}
    content(data, body)
    attributes: dict[str, Any] = {"langfuse.observation.type": "trace"}
    for key in ("metadata", "tags", "release", "version", "environment", "public"):
        value = body.get(key)
        if value is not None:
            attributes[f"langfuse.{key}"] = value
    event: dict[str, Any] = {
        # Per envelope: trace-create is also how the SDKs update a trace, and each
        # update's fields are kept (a trace row counts no call, no tokens).
        "event_id": "lf-" + env.id,
        "timestamp": stamp,
        "event_type": "span",
        "trace_id": body["id"],
        "data": data,
        "attributes": attributes,
    }
    name = body.get("name")
    if isinstance(name, str) and name:
        event["message"] = name
    people(event, body)
    return event


def _score(env: _Envelope, traces: dict[str, dict[str, Any]]) -> dict[str, Any]:
    body = env.body
    name = body.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError("score-create needs a name")
    value = body.get("value")
    data: dict[str, Any] = {}
    attributes: dict[str, Any] = {"langfuse.score.name": name}
    if isinstance(value, bool):
        data["score"] = 1.0 if value else 0.0
    elif isinstance(value, int | float):
        data["score"] = float(value)
    elif isinstance(value, str):
        attributes["langfuse.score.value"] = value  # a categorical score
    else:
        raise ValueError("score-create needs a numeric, boolean or string value")
    for key in ("dataType", "configId", "environment", "metadata"):
        if body.get(key) is not None:
            attributes[f"langfuse.score.{key}"] = body[key]
    comment = body.get("comment")
    if isinstance(comment, str) and comment:
        data["comment"] = comment
    stamp = time_ns(body.get("timestamp"), "timestamp") or time_ns(env.timestamp, "timestamp")
    if stamp is None:
        raise ValueError("score-create has no timestamp")
    score_id = body.get("id")
    key = score_id if isinstance(score_id, str) and 0 < len(score_id) <= _MAX_ID else env.id
    event: dict[str, Any] = {
        "event_id": "lf-score-" + key[: _MAX_ID - 6],
        "timestamp": stamp,
        "event_type": "feedback",
        "message": name,
        "data": data,
        "attributes": attributes,
    }
    observation = body.get("observationId")
    if isinstance(observation, str) and observation:
        event["span_id"] = observation
    link_trace(event, body.get("traceId"), traces)
    session = body.get("sessionId")
    if isinstance(session, str) and session:
        event["session_id"] = session
    return event
