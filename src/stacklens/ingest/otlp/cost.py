"""The per-request cost bounds (:mod:`stacklens.ingest.limits`) applied to OTLP:
items per request, attributes per item, nesting of ``AnyValue``s.

For JSON every check runs on the msgspec document, before ``ParseDict`` (the
expensive part). For protobuf the item count runs on the parsed message at C speed,
and the per-item checks run in the decoder's loop, before the item is mapped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, Literal

from stacklens.ingest.limits import RequestLimits, check_attributes, check_items, depth_error

if TYPE_CHECKING:
    from .attributes import Entry

__all__ = [
    "ITEM",
    "NOUNS",
    "check_entries",
    "check_json_items",
    "check_message_item",
    "count_items",
]

Kind = Literal["traces", "logs", "metrics"]

NOUNS: Final = {"traces": "spans", "logs": "log records", "metrics": "metric data points"}
ITEM: Final = {"traces": "span", "logs": "log record", "metrics": "data point"}
_JSON_NESTED: Final = ("kvlistValue", "kvlist_value", "arrayValue", "array_value")
#: The ``AnyValue`` fields that nest (every other value is one level deep).
_NESTED: Final = frozenset({"kvlist_value", "array_value"})


def count_items(kind: Kind, message: Any) -> int:
    """Spans, log records or data points in a parsed request (C-speed field access)."""
    if kind == "traces":
        return sum(len(ss.spans) for rs in message.resource_spans for ss in rs.scope_spans)
    if kind == "logs":
        return sum(len(sl.log_records) for rl in message.resource_logs for sl in rl.scope_logs)
    total = 0
    for rm in message.resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                which = metric.WhichOneof("data")
                if which is not None:
                    total += len(getattr(metric, which).data_points)
    return total


def check_json_items(kind: Kind, items: list[Any], limits: RequestLimits) -> None:
    """Bounds on the JSON items (span / log record / data point objects) of a request."""
    check_items(len(items), limits, NOUNS[kind])
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            continue  # a wrong shape: ParseDict reports it
        attributes = item.get("attributes")
        values = [item.get("body")]
        if isinstance(attributes, list):
            check_attributes(len(attributes), limits, index, ITEM[kind])
            values += [kv.get("value") for kv in attributes if isinstance(kv, dict)]
        if _json_depth(values, limits.max_depth) > limits.max_depth:
            raise depth_error(limits, index, ITEM[kind])


def _json_depth(values: list[Any], limit: int) -> int:
    """How deeply JSON ``AnyValue``s nest (1: a scalar), stopping once past ``limit``."""
    deepest = 0
    stack = [(value, 1) for value in values]
    while stack:
        value, depth = stack.pop()
        if not isinstance(value, dict):
            continue
        deepest = max(deepest, depth)
        if depth > limit:
            break
        for name in _JSON_NESTED:
            inner = value.get(name)
            children = inner.get("values") if isinstance(inner, dict) else None
            if isinstance(children, list):
                for child in children:
                    nested = (
                        child.get("value")
                        if "kvlist" in name and isinstance(child, dict)
                        else child
                    )
                    stack.append((nested, depth + 1))
    return deepest


def check_message_item(
    kind: Kind, item: Any, index: int, limits: RequestLimits, *, has_body: bool = False
) -> None:
    """Bounds on one protobuf span / log record / data point, before it is mapped."""
    attributes = item.attributes
    check_attributes(len(attributes), limits, index, ITEM[kind])
    values = [kv.value for kv in attributes]
    if has_body and item.HasField("body"):
        values.append(item.body)
    if _message_depth(values, limits.max_depth) > limits.max_depth:
        raise depth_error(limits, index, ITEM[kind])


def check_entries(kind: Kind, items: list[Entry], index: int, limits: RequestLimits) -> None:
    """:func:`check_message_item` for an item without a body whose attributes are
    already read out (:func:`.attributes.entries`): only the nested values are walked,
    since a scalar is one level deep and no bound is below one (the same verdict)."""
    check_attributes(len(items), limits, index, ITEM[kind])
    if limits.max_depth >= 1:
        values = [value for _, value, which in items if which in _NESTED]
        if not values:
            return
    else:
        values = [value for _, value, _ in items]
    if _message_depth(values, limits.max_depth) > limits.max_depth:
        raise depth_error(limits, index, ITEM[kind])


def _message_depth(values: list[Any], limit: int) -> int:
    deepest = 0
    stack = [(value, 1) for value in values]
    while stack:
        value, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > limit:
            break
        which = value.WhichOneof("value")
        if which == "kvlist_value":
            stack.extend((kv.value, depth + 1) for kv in value.kvlist_value.values)
        elif which == "array_value":
            stack.extend((v, depth + 1) for v in value.array_value.values)
    return deepest
