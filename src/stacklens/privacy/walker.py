"""The value walker under the redactor: any JSON-ish value in, its scrubbed copy out.

Walk order per value: a dict key is scrubbed by the value detectors, then its *name*
decides (:func:`.key_names.key_rule`) whether the whole value is a secret; otherwise the
value is walked: strings are scrubbed (and parsed first when they look like a JSON
object or array), containers recursed into up to :data:`MAX_DEPTH`. User-id keys get a
pseudonym, keyed like every hash with the deployment key.

:class:`~stacklens.privacy.redactor.Redactor` adds what is particular to a canonical
event (its top-level fields, the ``data`` object, the stacks' policies) on top.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any, Final

import msgspec

from stacklens.privacy.detectors import MARKER_RE, MIN_LENGTH, marker, scrub_text
from stacklens.privacy.identity import is_user_key, replace_emails
from stacklens.privacy.key_names import KeyRule, key_rule
from stacklens.privacy.policy import Finding, PrivacyPolicy

__all__ = ["CLEAN_TEXT", "MAX_DEPTH", "Walker"]

#: Deeper values are replaced whole: no legitimate event nests this far, and a bound
#: keeps a hostile payload from exhausting the stack.
MAX_DEPTH: Final = 32
_PSEUDONYM: Final = re.compile(r"u_[0-9a-f]{16}")
_PSEUDONYMS_MAX: Final = 65536
#: Short strings seen clean (model names, regions, routes, levels repeat across events):
#: one dict lookup instead of a scan. Unique ids pass through and the cache is simply
#: emptied when full. Only strings with no finding are kept (in memory, never stored).
#: Shared with the redactor, whose inlined fast paths read it directly.
CLEAN_TEXT: dict[str, None] = {}
_CLEAN_TEXT_MAX: Final = 8192
_CLEAN_TEXT_LEN: Final = 64
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


class Walker:
    """Scrubs values with one deployment key: the key-name rules, the value detectors,
    and user pseudonyms (``key`` keys every hash: the same text hashes the same within
    a deployment and differently across deployments)."""

    __slots__ = ("_inner", "_outer", "_pseudonyms")

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes | bytearray) or not key:
            raise ValueError("Redactor needs a non-empty deployment key (bytes)")
        # HMAC-SHA256 with the padded key pre-hashed once: hash_text then costs two
        # hash copies instead of building an hmac object per call.
        block = bytes(key) if len(key) <= 64 else hashlib.sha256(bytes(key)).digest()
        block = block.ljust(64, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))
        # Users recur across events; their pseudonyms are worth remembering.
        self._pseudonyms: dict[str, str] = {}

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

    # -- walking ---------------------------------------------------------------------

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
        clean_text = CLEAN_TEXT
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
        if length < MIN_LENGTH or text in CLEAN_TEXT:
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
            if len(CLEAN_TEXT) >= _CLEAN_TEXT_MAX:
                CLEAN_TEXT.clear()
            CLEAN_TEXT[text] = None
        return result

    def _user(self, value: Any, path: str, found: list[Finding], depth: int, pol: _Pol) -> Any:
        """The value under a user-id key: a pseudonym, or walked like any value."""
        if pol is not None and pol.pseudonymize_users:
            if isinstance(value, str) and value:
                return self.pseudonymize_user(value)
            if type(value) is int:
                return self.pseudonymize_user(str(value))
        return self._walk(value, path, found, depth, pol)
