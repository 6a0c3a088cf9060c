"""Hypothesis: never raises, idempotent, and no planted secret survives any structure."""

from __future__ import annotations

from typing import Any

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stacklens.privacy import PrivacyPolicy, Redactor
from stacklens.testing.secrets import SECRETS, encoded_forms

REDACTOR = Redactor(b"property-key-0123456789abcdef0123")
SETTINGS = settings(
    max_examples=250, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)

_KEY_WORDS = [
    "password",
    "api_key",
    "token",
    "tokens_in",
    "env",
    "x-api-key",
    "max_tokens",
    "clientSecret",
    "note",
    "data",
    "url",
    "command",
    "Authorization",
    "args",
]
_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=60)
    | st.sampled_from(
        [
            "{",
            "[",
            "{}",
            "[1,",
            '{"a": "b"}',
            "password=",
            "Bearer ",
            "sk-",
            "https://u:p@h/x?y=1#z",
            "[REDACTED:token]",
            "-----BEGIN PRIVATE KEY-----",
        ]
    )
)
_keys = st.text(max_size=20) | st.sampled_from(_KEY_WORDS)
json_values = st.recursive(
    _scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(_keys, children, max_size=5),
    max_leaves=30,
)


@SETTINGS
@given(json_values)
def test_redact_value_never_raises_and_is_idempotent(value: Any) -> None:
    once, _ = REDACTOR.redact_value(value, "v")
    twice, findings = REDACTOR.redact_value(once, "v")
    assert twice == once
    assert findings == []
    msgspec.json.encode(once)  # still JSON


_separators = st.sampled_from([" ", "\n", ": ", "=", '"', "'", "(", ", ", "\t", " key "])


@st.composite
def planted(draw: st.DrawFn) -> tuple[Any, str]:
    """An arbitrary structure with one planted secret somewhere inside it."""
    secret = draw(st.sampled_from(SECRETS))
    # Secrets recognised only by their key name must sit under such a name.
    prefix = draw(st.text(max_size=20))
    sep = draw(_separators)
    suffix = draw(st.text(max_size=20))
    shape = draw(st.integers(0, 5))
    holder_key = draw(st.sampled_from(["password", "api_key", "client_secret", "auth_token"]))
    carrier: Any
    if shape == 0:
        carrier = {holder_key: secret}
    elif shape == 1:
        carrier = f"{prefix}{sep}{holder_key}={secret} {suffix}"
    elif shape == 2:
        carrier = msgspec.json.encode({holder_key: secret, "other": prefix}).decode()
    elif shape == 3:
        carrier = [suffix, {"nested": {holder_key: [secret]}}]
    elif shape == 4:
        carrier = {f"{holder_key}": msgspec.json.encode([prefix, {holder_key: secret}]).decode()}
    else:
        carrier = f'{prefix}{sep}"{holder_key}": "{secret}"'
    surrounding = draw(json_values)
    path = draw(st.lists(st.sampled_from(["a", "b", 0]), max_size=4))
    for step in reversed(path):
        carrier = [surrounding, carrier] if step == 0 else {str(step): carrier, "z": surrounding}
    return carrier, secret


@SETTINGS
@given(planted())
def test_no_planted_secret_in_any_structure(case: tuple[Any, str]) -> None:
    value, secret = case
    redacted, findings = REDACTOR.redact_value(value)
    blob = msgspec.json.encode(redacted)
    assert findings
    for form in encoded_forms(secret):
        assert form not in blob


@st.composite
def by_value(draw: st.DrawFn) -> tuple[str, str]:
    """A fixed-format secret (recognisable by shape alone) inside free text."""
    secret = draw(st.sampled_from([s for s in SECRETS if _shape_detectable(s)]))
    left = draw(st.text(max_size=30)) + draw(_separators)
    right = draw(_separators) + draw(st.text(max_size=30))
    return left + secret + right, secret


def _shape_detectable(secret: str) -> bool:
    found, _ = Redactor(b"k").redact_value(secret)
    return found != secret


@SETTINGS
@given(by_value())
def test_shaped_secrets_found_in_free_text(case: tuple[str, str]) -> None:
    text, secret = case
    redacted, _ = REDACTOR.redact_value({"message": text})
    assert secret not in msgspec.json.encode(redacted).decode("utf-8", "replace")
    assert secret not in str(redacted)


@settings(max_examples=150, deadline=None, database=None)
@given(
    st.dictionaries(
        st.sampled_from(["message", "session_id", "user_id", "service", "level", "extra"]),
        st.text(max_size=40),
    ),
    st.dictionaries(
        st.sampled_from(
            ["content", "command", "file_path", "url", "path", "args", "tool", "model", "note"]
        ),
        json_values,
        max_size=6,
    ),
    st.dictionaries(_keys, _scalars, max_size=6),
    st.sampled_from(["hash", "drop", "store"]),
)
def test_redact_event_idempotent(
    top: dict[str, Any], data: dict[str, Any], attributes: dict[str, Any], content: str
) -> None:
    redactor = Redactor(b"k" * 32, default_policy=PrivacyPolicy(content=content))  # type: ignore[arg-type]
    event = {
        "event_id": "e1",
        "timestamp": 1,
        "stack_name": "s",
        "event_type": "log",
        **top,
        "data": data,
        "attributes": attributes,
    }
    once = redactor.redact_event(event).event
    again = redactor.redact_event(once)
    assert again.event == once
    assert again.findings == []
    assert "args" not in once["data"]
