"""Issue 11: secret forms that reached disk, each found by :func:`scrub_text`."""

from __future__ import annotations

import base64
import urllib.parse

import pytest

from stacklens.privacy import Redactor, scrub_text
from stacklens.testing.secrets import (
    ANTHROPIC,
    AWS_SECRET_BARE,
    DB_PASSWORD,
    GROQ,
    HUB_KEY,
    OPENAI_PROJECT,
    TWILIO_KEY,
)


def _scrub(text: str) -> tuple[str, list[str]]:
    found: list[str] = []
    return scrub_text(text, found), found


def test_the_hubs_own_slk_keys() -> None:
    text, found = _scrub(f"admin key {HUB_KEY} pasted in chat")
    assert HUB_KEY not in text and "stacklens_key" in found


def test_twilio_api_key_sid() -> None:
    text, found = _scrub(f"twilio sid {TWILIO_KEY} used")
    assert TWILIO_KEY not in text and found == ["twilio"]


def test_bare_40_character_aws_secret_access_key() -> None:
    text, found = _scrub(f"creds {AWS_SECRET_BARE} from the vault")
    assert text == "creds [REDACTED:aws_secret_key] from the vault" and found == ["aws_secret_key"]


def test_aws_secret_bounded_by_underscore_in_a_key_name() -> None:
    text, _ = _scrub(f"key_{AWS_SECRET_BARE}")
    assert AWS_SECRET_BARE not in text


@pytest.mark.parametrize(
    "innocuous",
    [
        "9fceb02d0ae598e95dc970b74767f19372d61af8",  # git SHA: 40 hex, one case
        "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709",
        "AbstractSingletonProxyFactoryBean2Helper",  # 40 chars, low entropy
        "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",  # base64 SHA-256
    ],
)
def test_forty_character_look_alikes_are_not_aws_secrets(innocuous: str) -> None:
    assert _scrub(innocuous) == (innocuous, [])


@pytest.mark.parametrize("secret", [OPENAI_PROJECT, ANTHROPIC, GROQ, HUB_KEY])
@pytest.mark.parametrize(
    "encode",
    [
        lambda s: base64.b64encode(s.encode()).decode(),
        lambda s: base64.urlsafe_b64encode(s.encode()).decode().rstrip("="),
        lambda s: base64.b64encode(f"Authorization: Bearer {s}".encode()).decode(),
        lambda s: s.encode().hex(),
        lambda s: urllib.parse.quote(s, safe=""),
        lambda s: base64.b64encode(urllib.parse.quote(f"key={s}").encode()).decode(),
    ],
    ids=["base64", "base64url", "base64-header", "hex", "url", "base64-of-url"],
)
def test_decoded_forms_of_a_secret_are_secrets(secret: str, encode: object) -> None:
    encoded = encode(secret)  # type: ignore[operator]
    text, found = _scrub(f"payload {encoded} end")
    assert encoded not in text and found
    assert text.startswith("payload ") and text.endswith(" end")


def test_url_encoded_password_assignment() -> None:
    body = "user%3Dsvc%26password%3D" + DB_PASSWORD.replace("%", "%25")
    text, found = _scrub(f"POST /login body={body}")
    assert DB_PASSWORD not in urllib.parse.unquote(text) and "password" in found


def test_base64_of_innocuous_text_is_kept() -> None:
    encoded = base64.b64encode(b"hello world, this is a plain sentence").decode()
    assert _scrub(encoded) == (encoded, [])


def test_engine_reports_findings_of_encoded_forms() -> None:
    redactor = Redactor(b"k" * 32)
    value, findings = redactor.redact_value(
        {"blob": base64.b64encode(OPENAI_PROJECT.encode()).decode()}
    )
    assert value == {"blob": "[REDACTED:openai]"}
    assert [(f.rule, f.path) for f in findings] == [("openai", "blob")]
