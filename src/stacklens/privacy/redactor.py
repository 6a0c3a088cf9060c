"""The redaction engine: one canonical event in, one safe-to-store event out.

The same code runs in the SDK (client side, best effort) and at ingest (enforced,
whatever the client did), so it depends on the standard library and msgspec only.

Values are walked by :class:`~stacklens.privacy.walker.Walker` (key-name rules, value
detectors, depth bound); this module adds what is particular to a canonical event: the
stacks' policies, the known top-level fields, and the ``data`` object's transforms
(content and args hashed, command names, file path patterns, sanitized URLs).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any, Final

import msgspec

from stacklens.privacy.detectors import MIN_LENGTH, sanitize_url, scrub_text
from stacklens.privacy.policy import Finding, PrivacyPolicy, RedactionResult
from stacklens.privacy.transforms import command_names, content_stats, file_path_pattern
from stacklens.privacy.walker import CLEAN_TEXT, Walker

__all__ = ["Redactor"]

_CACHED_PATH_MAX: Final = 512  # longer file paths are not kept (memory bound)
_CACHED_PATHS_MAX: Final = 8192  # at most ~8 MB of paths and patterns held
#: Top-level fields of the canonical event whose *names* are known not to be secrets.
_TOP_FIELDS: Final = frozenset(
    {
        "event_id",
        "timestamp",
        "stack_name",
        "event_type",
        "session_id",
        "trace_id",
        "span_id",
        "parent_span_id",
        "user_id",
        "service",
        "level",
        "message",
        "attributes",
    }
)
#: ``data`` keys with a column of their own and no special transform.
_PLAIN_DATA_FIELDS: Final = frozenset(
    {
        "role",
        "model",
        "provider",
        "agent",
        "tool",
        "tokens_in",
        "tokens_out",
        "tokens_cache_read",
        "tokens_cache_write",
        "tokens_reasoning",
        "cost_usd",
        "duration_ms",
        "success",
        "error_code",
        "status_code",
        "method",
        "content_hash",
        "content_length",
        "word_count",
        "score",
        "comment",
        "args_hash",
    }
)
_DEFAULT_POLICY: Final = PrivacyPolicy()
_canonical_json = msgspec.json.Encoder(order="sorted")


def _text_of(value: Any) -> str:
    """Stable text of any value: itself for strings, sorted-key JSON otherwise."""
    if isinstance(value, str):
        return value
    try:
        return _canonical_json.encode(value).decode("utf-8", "surrogatepass")
    except (TypeError, ValueError, OverflowError, msgspec.EncodeError):
        return repr(value)


class Redactor(Walker):
    """Applies the privacy rules with one deployment key.

    ``key`` keys every hash (content, args, user pseudonyms): the same text hashes the
    same within a deployment and differently across deployments. ``on_redaction(rule,
    count)`` is called once per rule per event (the hub counts
    ``stacklens_redactions_total{rule}``).
    """

    __slots__ = ("_default", "_file_paths", "_on_redaction", "_policies")

    def __init__(
        self,
        key: bytes,
        *,
        default_policy: PrivacyPolicy = _DEFAULT_POLICY,
        policies: Mapping[str, PrivacyPolicy] | None = None,
        on_redaction: Callable[[str, int], None] | None = None,
    ) -> None:
        super().__init__(key)
        self._default = default_policy
        self._policies = dict(policies or {})
        self._on_redaction = on_redaction
        # file_path value -> its pattern, for paths in which no rule found anything (a
        # tool's paths repeat across a session): no secret is held here, and a path that
        # had findings is scrubbed and reported again each time.
        self._file_paths: dict[str, str] = {}

    # -- public API ------------------------------------------------------------------

    def policy_for(self, stack_name: str) -> PrivacyPolicy:
        return self._policies.get(stack_name, self._default)

    def redact_value(
        self, value: Any, path: str = "", *, stack: str | None = None
    ) -> tuple[Any, list[Finding]]:
        """Scrub any JSON-ish value (key-name rules and value detectors); never raises.

        With ``stack``, that stack's policy also applies to user ids and e-mails (metric
        point attributes); without, only the secret rules do."""
        found: list[Finding] = []
        pol = None if stack is None else self.policy_for(stack)
        result = self._walk(value, path, found, 0, pol)
        self._count(found)
        return result, found

    def redact_event(self, event: dict[str, Any]) -> RedactionResult:
        """Canonical event in, new canonical event out (see DESIGN.md "Privacy")."""
        if type(event) is not dict and not isinstance(event, Mapping):
            raise TypeError("redact_event takes a canonical event dict")
        stack = event.get("stack_name")
        policy = self._policies.get(stack, self._default) if type(stack) is str else (self._default)
        found: list[Finding] = []
        out: dict[str, Any] = {}
        clean_text = CLEAN_TEXT
        pol = policy
        for key, value in event.items():
            kind = type(value)
            if key not in _TOP_FIELDS:
                if key != "data":
                    new_key, new_value = self._item(key, value, "", found, 0, pol)
                    out[new_key] = new_value
                elif kind is dict or isinstance(value, Mapping):
                    out[key] = self._data(value, policy, found)
                else:
                    out[key] = self._walk(value, key, found, 0, pol)
            elif kind is str:
                if key == "user_id" and policy.pseudonymize_users:
                    out[key] = self.pseudonymize_user(value)
                elif len(value) < MIN_LENGTH or value in clean_text:
                    out[key] = value
                else:
                    out[key] = self._text(value, key, found, 0, pol)
            elif kind is int:
                out[key] = value
            elif key == "attributes" and kind is dict:
                out[key] = self._mapping(value, key, found, 1, pol)
            else:
                out[key] = self._walk(value, key, found, 0, pol)
        self._count(found)
        return RedactionResult(out, found)

    # -- walking ---------------------------------------------------------------------

    def _count(self, found: list[Finding]) -> None:
        if found and self._on_redaction is not None:
            for rule, count in Counter(f.rule for f in found).items():
                self._on_redaction(rule, count)

    # -- the data object -------------------------------------------------------------

    def _data(
        self, data: Mapping[str, Any], policy: PrivacyPolicy, found: list[Finding]
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        pol = policy
        rules: list[str]
        clean_text = CLEAN_TEXT
        for key, value in data.items():
            if key in _PLAIN_DATA_FIELDS:
                kind = type(value)
                if kind is str:
                    if len(value) < MIN_LENGTH or value in clean_text:
                        out[key] = value
                    else:
                        out[key] = self._text(value, f"data.{key}", found, 1, pol)
                elif kind is int or kind is float or kind is bool or value is None:
                    out[key] = value  # what _walk returns for a number: no path built
                else:
                    out[key] = self._walk(value, f"data.{key}", found, 1, pol)
            elif key in ("content", "args"):
                continue  # below, once the client's own counts are known
            elif key == "command" and isinstance(value, str):
                # Names are taken from the scrubbed command: a secret (a PEM block's
                # base64 lines, a key) is never read as a command name.
                rules = []
                scrubbed = scrub_text(value, rules)
                found.extend(Finding(rule, "data.command") for rule in rules)
                out[key] = command_names(scrubbed, [])
            elif key == "file_path" and isinstance(value, str):
                known = self._file_paths.get(value)
                if known is not None:
                    out[key] = known
                    continue
                pattern = file_path_pattern(value)
                if self._findings_in(value, "data.file_path", found):
                    pattern = scrub_text(pattern, [])
                elif len(value) <= _CACHED_PATH_MAX:
                    if len(self._file_paths) >= _CACHED_PATHS_MAX:
                        self._file_paths.clear()
                    self._file_paths[value] = pattern
                out[key] = pattern
            elif key in ("url", "path") and isinstance(value, str):
                rules = []
                out[key] = sanitize_url(value, rules)
                found.extend(Finding(rule, f"data.{key}") for rule in rules)
            else:
                new_key, new_value = self._item(key, value, "data", found, 1, pol)
                out[new_key] = new_value
        content = data.get("content")
        if content is not None:
            text = _text_of(content)
            if policy.content == "store":
                out["content"] = self._walk(content, "data.content", found, 1, pol)
            elif policy.content == "hash":
                out["content_hash"] = self.hash_text(text)
            length, words = content_stats(text)
            if out.get("content_length") is None:
                out["content_length"] = length
            if out.get("word_count") is None:
                out["word_count"] = words
        if data.get("args") is not None and out.get("args_hash") is None:
            out["args_hash"] = self.hash_text(_text_of(data["args"]))
        return out

    @staticmethod
    def _findings_in(text: str, path: str, found: list[Finding]) -> bool:
        rules: list[str] = []
        scrub_text(text, rules)
        found.extend(Finding(rule, path) for rule in rules)
        return bool(rules)
