"""The redaction engine: one canonical event in, one safe-to-store event out.

The same code runs in the SDK (client side, best effort) and at ingest (enforced,
whatever the client did), so it depends on the standard library and msgspec only.

Walk order per value: a dict key is scrubbed by the value detectors, then its *name*
decides (:func:`.keys.key_rule`) whether the whole value is a secret; otherwise the value
is walked: strings are scrubbed (and parsed first when they look like a JSON object or
array), containers recursed into up to :data:`MAX_DEPTH`.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any, Final

import msgspec

from stacklens.privacy.detectors import MARKER_RE, MIN_LENGTH, marker, sanitize_url, scrub_text
from stacklens.privacy.identity import is_user_key, replace_emails
from stacklens.privacy.key_names import KeyRule, key_rule
from stacklens.privacy.policy import Finding, PrivacyPolicy, RedactionResult
from stacklens.privacy.transforms import command_names, content_stats, file_path_pattern

__all__ = ["MAX_DEPTH", "Redactor"]

#: Deeper values are replaced whole: no legitimate event nests this far, and a bound
#: keeps a hostile payload from exhausting the stack.
MAX_DEPTH: Final = 32
_PSEUDONYM: Final = re.compile(r"u_[0-9a-f]{16}")
_PSEUDONYMS_MAX: Final = 65536
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
#: Short strings seen clean (model names, regions, routes, levels repeat across events):
#: one dict lookup instead of a scan. Unique ids pass through and the cache is simply
#: emptied when full. Only strings with no finding are kept (in memory, never stored).
_CLEAN_TEXT: dict[str, None] = {}
_CLEAN_TEXT_MAX: Final = 8192
_CLEAN_TEXT_LEN: Final = 64
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
_json_encoder = msgspec.json.Encoder()
_json_decoder = msgspec.json.Decoder()

#: Keys already seen free of secrets, with their key-name rule (keys repeat across
#: events; values mostly do not).
_CLEAN_KEYS: dict[str, KeyRule | None] = {}
_CLEAN_KEYS_MAX: Final = 16384
_UNKNOWN: Final[Any] = object()
#: The cached "rule" of a user-id key (``user.id``, ``enduser.id``, ``userId``...): its
#: value is pseudonymized like the native ``user_id`` when the policy says so.
_USER_KEY: Final = KeyRule("user_id")
#: The policy an event is redacted under; ``None`` (``redact_value``) applies only the
#: secret rules, which need no policy.
_Pol = PrivacyPolicy | None


def _secret_value(value: Any, rule: KeyRule) -> bool:
    """Whether a value under a secret-named key is replaced."""
    if rule.container_only:
        return isinstance(value, dict | list | tuple)
    if isinstance(value, str):
        return bool(value) and MARKER_RE.fullmatch(value) is None
    return value is not None and not isinstance(value, bool)


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def _text_of(value: Any) -> str:
    """Stable text of any value: itself for strings, sorted-key JSON otherwise."""
    if isinstance(value, str):
        return value
    try:
        return _canonical_json.encode(value).decode("utf-8", "surrogatepass")
    except (TypeError, ValueError, OverflowError, msgspec.EncodeError):
        return repr(value)


class Redactor:
    """Applies the privacy rules with one deployment key.

    ``key`` keys every hash (content, args, user pseudonyms): the same text hashes the
    same within a deployment and differently across deployments. ``on_redaction(rule,
    count)`` is called once per rule per event (the hub counts
    ``stacklens_redactions_total{rule}``).
    """

    __slots__ = (
        "_default",
        "_file_paths",
        "_inner",
        "_on_redaction",
        "_outer",
        "_policies",
        "_pseudonyms",
    )

    def __init__(
        self,
        key: bytes,
        *,
        default_policy: PrivacyPolicy = _DEFAULT_POLICY,
        policies: Mapping[str, PrivacyPolicy] | None = None,
        on_redaction: Callable[[str, int], None] | None = None,
    ) -> None:
        if not isinstance(key, bytes | bytearray) or not key:
            raise ValueError("Redactor needs a non-empty deployment key (bytes)")
        # HMAC-SHA256 with the padded key pre-hashed once: hash_text then costs two
        # hash copies instead of building an hmac object per call.
        block = bytes(key) if len(key) <= 64 else hashlib.sha256(bytes(key)).digest()
        block = block.ljust(64, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))
        self._default = default_policy
        self._policies = dict(policies or {})
        self._on_redaction = on_redaction
        # Users recur across events; their pseudonyms are worth remembering.
        self._pseudonyms: dict[str, str] = {}
        # file_path value -> its pattern, for paths in which no rule found anything (a
        # tool's paths repeat across a session): no secret is held here, and a path that
        # had findings is scrubbed and reported again each time.
        self._file_paths: dict[str, str] = {}

    # -- public API ------------------------------------------------------------------

    def policy_for(self, stack_name: str) -> PrivacyPolicy:
        return self._policies.get(stack_name, self._default)

    def hash_text(self, text: str) -> str:
        """HMAC-SHA256 of ``text`` (UTF-8) with the deployment key, as hex."""
        inner = self._inner.copy()
        inner.update(text.encode("utf-8", "surrogatepass"))
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()

    def pseudonymize_user(self, user_id: str) -> str:
        """``u_`` + 16 hex of the keyed hash; an existing pseudonym is kept."""
        pseudonym = self._pseudonyms.get(user_id)
        if pseudonym is None:
            if _PSEUDONYM.fullmatch(user_id):
                return user_id
            if len(self._pseudonyms) >= _PSEUDONYMS_MAX:
                self._pseudonyms.clear()
            pseudonym = self._pseudonyms[user_id] = "u_" + self.hash_text(user_id)[:16]
        return pseudonym

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
        clean_text = _CLEAN_TEXT
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

    def _walk(self, value: Any, path: str, found: list[Finding], depth: int, pol: _Pol) -> Any:
        if isinstance(value, str):
            return self._text(value, path, found, depth, pol)
        if value is None or isinstance(value, bool | int | float):
            return value
        if depth >= MAX_DEPTH:
            found.append(Finding("depth", path))
            return marker("depth")
        if isinstance(value, Mapping):
            return self._mapping(value, path, found, depth + 1, pol)
        if isinstance(value, list | tuple):
            return [
                self._walk(item, f"{path}[{index}]", found, depth + 1, pol)
                for index, item in enumerate(value)
            ]
        # Anything else (bytes, datetimes, exceptions handed to a logger): its text.
        if isinstance(value, bytes | bytearray | memoryview):
            text = bytes(value).decode("utf-8", "replace")
        else:
            try:
                text = str(value)
            except Exception:  # a broken __str__ must not break redaction
                return marker("unprintable")
        return self._text(text, path, found, depth, pol)

    def _mapping(
        self, value: Mapping[Any, Any], path: str, found: list[Finding], depth: int, pol: _Pol
    ) -> dict[Any, Any]:
        # The hot loop of every event (attributes, data): the common cases (known key,
        # short or already-seen string, number) are inlined.
        out: dict[Any, Any] = {}
        clean_keys = _CLEAN_KEYS
        clean_text = _CLEAN_TEXT
        for key, item in value.items():
            rule = clean_keys.get(key, _UNKNOWN)
            if rule is _UNKNOWN:
                new_key, new_item = self._item(key, item, path, found, depth, pol)
                out[new_key] = new_item
            elif rule is _USER_KEY:
                out[key] = self._user(item, _join(path, key), found, depth, pol)
            elif rule is not None and _secret_value(item, rule):
                found.append(Finding(rule.rule, _join(path, key)))
                out[key] = marker(rule.rule)
            elif type(item) is str:
                if len(item) < MIN_LENGTH or item in clean_text:
                    out[key] = item
                else:
                    out[key] = self._text(item, _join(path, key), found, depth, pol)
            elif item is None or type(item) is int or type(item) is float or type(item) is bool:
                out[key] = item
            else:
                out[key] = self._walk(item, _join(path, key), found, depth, pol)
        return out

    def _item(
        self, key: Any, value: Any, path: str, found: list[Finding], depth: int, pol: _Pol
    ) -> tuple[Any, Any]:
        """One entry of a mapping, in full: key scrubbed, key rule, value walked."""
        if not isinstance(key, str):
            return key, self._walk(value, f"{path}[{key!r}]", found, depth, pol)
        rule = _CLEAN_KEYS.get(key, _UNKNOWN)
        if rule is _UNKNOWN:
            rules: list[str] = []
            new_key = scrub_text(key, rules)
            if new_key is key:
                if len(_CLEAN_KEYS) >= _CLEAN_KEYS_MAX:
                    _CLEAN_KEYS.clear()
                rule = _CLEAN_KEYS[key] = _USER_KEY if is_user_key(key) else key_rule(key)
            else:
                child = _join(path, new_key)
                found.extend(Finding(rule, child) for rule in rules)
                key = new_key
                rule = key_rule(key)
        child = _join(path, key)
        if rule is _USER_KEY:
            return key, self._user(value, child, found, depth, pol)
        if isinstance(rule, KeyRule) and _secret_value(value, rule):
            found.append(Finding(rule.rule, child))
            return key, marker(rule.rule)
        if type(value) is str:
            return key, self._text(value, child, found, depth, pol)
        return key, self._walk(value, child, found, depth, pol)

    def _text(self, text: str, path: str, found: list[Finding], depth: int, pol: _Pol) -> str:
        length = len(text)
        if length < MIN_LENGTH or text in _CLEAN_TEXT:
            return text
        if text[0] in "{[" and text[-1] in "}]":
            try:
                parsed = _json_decoder.decode(text)
            except (msgspec.DecodeError, ValueError, RecursionError):
                parsed = None
            if isinstance(parsed, dict | list):
                mark = len(found)
                walked = self._walk(parsed, path, found, depth, pol)
                if walked == parsed:
                    return text
                try:
                    return _json_encoder.encode(walked).decode("utf-8")
                except (TypeError, ValueError, UnicodeError, msgspec.EncodeError):
                    del found[mark:]  # fall back to scrubbing it as plain text
        rules: list[str] = []
        result = scrub_text(text, rules)
        if pol is not None and "@" in result:
            result = replace_emails(result, pol.email_mode, self.pseudonymize_user, rules)
        if rules:
            found.extend(Finding(rule, path) for rule in rules)
        elif result is text and length <= _CLEAN_TEXT_LEN and "@" not in text:
            # (Not text with an address: whether it stays depends on the policy.)
            if len(_CLEAN_TEXT) >= _CLEAN_TEXT_MAX:
                _CLEAN_TEXT.clear()
            _CLEAN_TEXT[text] = None
        return result

    def _user(self, value: Any, path: str, found: list[Finding], depth: int, pol: _Pol) -> Any:
        """The value under a user-id key: a pseudonym, or walked like any value."""
        if pol is not None and pol.pseudonymize_users:
            if isinstance(value, str) and value:
                return self.pseudonymize_user(value)
            if type(value) is int:
                return self.pseudonymize_user(str(value))
        return self._walk(value, path, found, depth, pol)

    # -- the data object -------------------------------------------------------------

    def _data(
        self, data: Mapping[str, Any], policy: PrivacyPolicy, found: list[Finding]
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        pol = policy
        rules: list[str]
        clean_text = _CLEAN_TEXT
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
