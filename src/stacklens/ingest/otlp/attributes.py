"""OTLP ``AnyValue`` / ``KeyValue`` → the contract's fields, content and flat attributes.

Shared by spans and log records. Attributes land in one of four places, decided by a
single dict lookup on the key (see :mod:`.semconv`):

* a contract field (``data.model``, ``session_id`` ...), converted and ranked;
* ``data.content`` (prompt/response text): the privacy engine hashes it there;
* nowhere (indexed content leaves that are not text, message roles);
* ``attributes``: flat, scalars or lists of scalars; a kvlist is flattened with dots,
  bytes that carry text become that text (so the privacy engine scrubs it) and other
  bytes become hex, nested arrays inside arrays become JSON text.

Resource attributes that are not mapped are kept with a ``resource.`` prefix so they
never collide with span attributes of the same name (``service.version`` is both).
"""

from __future__ import annotations

import re
from typing import Any, Final, NamedTuple

import msgspec

from stacklens.schema import STACK_NAME_RE

from .semconv import (
    ATTRIBUTE_RULES,
    CONTENT_KEYS,
    CONTENT_LEAVES,
    CONTENT_PREFIXES,
    NOT_CONTENT,
    TOP_LEVEL_FIELDS,
    Rule,
    to_str,
)

__all__ = [
    "Entry",
    "ItemError",
    "Mapped",
    "ResourceContext",
    "as_text",
    "attach_resource",
    "check_id",
    "entries",
    "flatten_into",
    "plain",
    "resource_context",
    "scope_attributes",
]

_json = msgspec.json.Encoder(order="sorted")
_SCALARS: Final = frozenset({"string_value", "int_value", "double_value", "bool_value"})


class ItemError(ValueError):
    """One span / log record / point cannot be mapped; the reason goes to the client."""


#: A run of printable ASCII this long in a ``bytesValue`` may be a secret (a token sent
#: as bytes): such bytes are stored as text, for the scrubber to see.
_TEXT_RUN: Final = re.compile(rb"[\x20-\x7e]{8,}")


def bytes_text(raw: bytes) -> str:
    """``bytesValue`` as stored: its text if it holds any, else hex (``b"\\x01\\x02"`` →
    ``"0102"``). Hex would hide a secret from the scrubber; non-text bytes become U+FFFD."""
    if _TEXT_RUN.search(raw) is None:
        return raw.hex()
    text = raw.decode("utf-8", "replace")
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c in "\n\t" else "\ufffd" for c in text)


def plain(value: Any) -> Any:
    """An ``AnyValue`` as a Python value (bytes → text or hex, kvlist → dict, array →
    list)."""
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which == "kvlist_value":
        return {kv.key: plain(kv.value) for kv in value.kvlist_value.values}
    if which == "array_value":
        return [plain(item) for item in value.array_value.values]
    if which == "bytes_value":
        return bytes_text(value.bytes_value)
    return getattr(value, which)


def as_text(value: Any) -> str:
    """A plain value as text: strings as-is, structures as JSON (for content, bodies)."""
    if isinstance(value, str):
        return value
    return _json.encode(value).decode()


def flatten_into(out: dict[str, Any], key: str, value: Any) -> None:
    """Store a plain value under ``key`` in the flat attribute shape normalize accepts."""
    if isinstance(value, dict):
        for sub, item in value.items():
            flatten_into(out, f"{key}.{sub}", item)
    elif isinstance(value, list):
        out[key] = [
            item if item is None or isinstance(item, str | int | float | bool) else as_text(item)
            for item in value
        ]
    elif value is not None:
        out[key] = value


def check_id(raw: bytes, size: int, name: str, *, zero_is_absent: bool) -> str | None:
    """Validate a trace/span id and return it as lowercase hex (None when absent)."""
    if not raw:
        return None
    if len(raw) != size:
        raise ItemError(f"{name} must be {size} bytes ({size * 2} hex characters)")
    if not any(raw):
        if zero_is_absent:
            return None
        raise ItemError(f"{name} must not be all zeros")
    return raw.hex()


# What to do with an attribute key, cached per key: the decision for a key never
# changes, and one dict hit per attribute is the cheapest dispatch there is (the
# prefix tests for content run once per distinct key, not once per span).
_PLAIN: Final = 0  # an ordinary attribute
_CONTENT: Final = 1  # whole value is content
_CONTENT_LEAF: Final = 2  # indexed content: string value joins data.content
_DROP: Final = 3  # under a content prefix but not text (roles, vectors): dropped
_ACTIONS: dict[str, Any] = {}
_ACTIONS_MAX: Final = 20_000  # bound the cache against clients inventing keys


def _action(key: str) -> Any:
    action: Any = ATTRIBUTE_RULES.get(key)
    if action is None:
        if key in CONTENT_KEYS:
            action = _CONTENT
        elif key.startswith(CONTENT_PREFIXES) and key not in NOT_CONTENT:
            action = _CONTENT_LEAF if key.rpartition(".")[2] in CONTENT_LEAVES else _DROP
        else:
            action = _PLAIN
    if len(_ACTIONS) >= _ACTIONS_MAX:
        _ACTIONS.clear()
    _ACTIONS[key] = action
    return action


#: One attribute read out of its ``KeyValue``: key, ``AnyValue``, the value's set field.
Entry = tuple[str, Any, str | None]


def entries(kvs: Any) -> list[Entry]:
    """A repeated ``KeyValue`` as :data:`Entry` tuples. Each access to a protobuf
    element builds a Python object, so the cost bound (:func:`.cost.check_entries`) and
    the mapping read these once, not each its own way."""
    return [(kv.key, value, value.WhichOneof("value")) for kv in kvs for value in (kv.value,)]


class Mapped:
    """Accumulates one item's mapped fields, content and attributes."""

    __slots__ = ("attrs", "content", "data", "ranks")

    def __init__(self, attrs: dict[str, Any]) -> None:
        self.attrs = attrs
        self.data: dict[str, Any] = {}
        #: field -> (rank, source key, source value) of the value that won so far
        self.ranks: dict[str, tuple[int, str, Any]] = {}
        self.content: list[str] = []

    def add(self, kvs: Any) -> None:
        """Map a repeated ``KeyValue`` (span/log attributes)."""
        self.add_entries(entries(kvs))

    def add_entries(self, items: list[Entry]) -> None:
        """Map attributes already read out of their messages (:func:`entries`)."""
        actions = _ACTIONS
        scalars = _SCALARS
        attrs = self.attrs
        data = self.data
        ranks = self.ranks
        for key, value, which in items:
            if which is None:
                continue
            scalar = which in scalars
            item = getattr(value, which) if scalar else plain(value)
            action = actions.get(key)
            if action is None:
                action = _action(key)
            if action is _PLAIN:
                if scalar:
                    attrs[key] = item
                else:
                    flatten_into(attrs, key, item)
            elif type(action) is Rule:
                field, rank, convert = action
                # Strings are the common case: skip the conversion call for them.
                converted = (
                    item if convert is to_str and type(item) is str and item else convert(item)
                )
                if converted is not None and field not in ranks:
                    data[field] = converted  # the common case, inlined
                    ranks[field] = (rank, key, item)
                else:
                    self.set(field, rank, converted, key, item)
            elif action is _CONTENT:
                self.content.append(as_text(item))
            elif action is _CONTENT_LEAF and type(item) is str:
                self.content.append(item)

    def set(self, field: str, rank: int, value: Any, key: str, original: Any) -> None:
        """Set ``field`` unless a higher-ranked source already did; keep the loser."""
        if value is None:
            # Unconvertible (e.g. tokens as "n/a"): keep it as an attribute, do not reject.
            flatten_into(self.attrs, key, original)
            return
        current = self.ranks.get(field)
        if current is None or rank > current[0]:
            if current is not None:
                flatten_into(self.attrs, current[1], current[2])
            self.data[field] = value
            self.ranks[field] = (rank, key, original)
        else:
            flatten_into(self.attrs, key, original)

    def finish(self, event: dict[str, Any]) -> None:
        """Move the mapped values into ``event`` (top-level ids, ``data``, attributes)."""
        data = self.data
        for name in TOP_LEVEL_FIELDS:
            if name in data:
                event[name] = data.pop(name)
        if self.content:
            existing = data.get("content")
            parts = [existing, *self.content] if existing else self.content
            data["content"] = "\n".join(parts)
        event["data"] = data
        event["attributes"] = self.attrs


class ResourceContext(NamedTuple):
    """What one resource (+ scope) contributes to every item under it."""

    stack_name: str | None
    service: str | None
    attributes: dict[str, Any]


_STACK_KEYS: Final = ("stack.name", "service.namespace")


def resource_context(resource: Any, *, namespace_as_stack: bool = True) -> ResourceContext:
    """Stack and service from resource attributes; the rest as ``resource.*``.

    ``stack.name`` wins over ``service.namespace``; ``namespace_as_stack=False`` (a key
    bound to one stack) ignores the namespace, which teams often set to an environment
    name such as ``production``. The value is lowercased; if it still
    does not match the stack-name pattern it is left out (and kept as an attribute) so
    the API key or ``X-Stack-Name`` decides instead of the whole batch failing.
    """
    values: dict[str, Any] = {}
    for kv in resource.attributes:
        values[kv.key] = plain(kv.value)
    stack: str | None = None
    for key in _STACK_KEYS if namespace_as_stack else _STACK_KEYS[:1]:
        candidate = values.get(key)
        if isinstance(candidate, str) and STACK_NAME_RE.fullmatch(candidate.lower()):
            stack = candidate.lower()
            del values[key]
            break
    service = values.pop("service.name", None)
    if not isinstance(service, str) or not service:
        if service is not None:
            values["service.name"] = service
        service = None
    attributes: dict[str, Any] = {}
    for key, value in values.items():
        flatten_into(attributes, f"resource.{key}", value)
    return ResourceContext(stack, service, attributes)


def attach_resource(event: dict[str, Any], context: ResourceContext) -> dict[str, Any]:
    """The stack and service a resource names, on one of its items."""
    if context.stack_name is not None:
        event["stack_name"] = context.stack_name
    if context.service is not None:
        event["service"] = context.service
    return event


def scope_attributes(base: dict[str, Any], scope: Any) -> dict[str, Any]:
    """Resource attributes plus the instrumentation scope (``otel.scope.*``, as Jaeger)."""
    out = dict(base)
    if scope.name:
        out["otel.scope.name"] = scope.name
    if scope.version:
        out["otel.scope.version"] = scope.version
    return out
