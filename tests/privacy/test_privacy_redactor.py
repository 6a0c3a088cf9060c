"""The engine on canonical events: policies, hashing, pseudonyms, shapes."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys
from typing import Any

import msgspec
import pytest

from stacklens.privacy import MAX_DEPTH, Finding, PrivacyPolicy, Redactor

KEY = b"engine-test-key-0123456789abcdef"
SECRET = "ghp_" + "Ab3" * 12


def _event(**data: Any) -> dict[str, Any]:
    return {
        "event_id": "e1",
        "timestamp": 1_732_000_000_000_000_000,
        "stack_name": "demo",
        "event_type": "message",
        "data": data,
        "attributes": {},
    }


def test_hash_text_is_hmac_sha256() -> None:
    redactor = Redactor(KEY)
    expected = hmac.new(KEY, "héllo".encode(), hashlib.sha256).hexdigest()
    assert redactor.hash_text("héllo") == expected
    long_key = b"k" * 100  # longer than a block: hashed first, as HMAC says
    assert Redactor(long_key).hash_text("x") == hmac.new(long_key, b"x", hashlib.sha256).hexdigest()


def test_same_key_same_hash_different_key_different_hash() -> None:
    assert Redactor(KEY).hash_text("prompt") == Redactor(KEY).hash_text("prompt")
    assert Redactor(KEY).hash_text("prompt") != Redactor(b"other-key").hash_text("prompt")
    assert Redactor(KEY).hash_text("prompt") != Redactor(KEY).hash_text("prompt ")


def test_empty_key_is_refused() -> None:
    with pytest.raises(ValueError, match="key"):
        Redactor(b"")


def test_content_hash_policy() -> None:
    redactor = Redactor(KEY)
    text = f"Hello there,  my token is {SECRET}\n"
    data = redactor.redact_event(_event(content=text, role="user")).event["data"]
    assert "content" not in data
    assert data == {
        "role": "user",
        "content_hash": redactor.hash_text(text),
        "content_length": len(text),
        "word_count": 6,
    }


def test_content_client_counts_are_kept() -> None:
    data = Redactor(KEY).redact_event(_event(content="a b c", content_length=99, word_count=7))
    assert data.event["data"]["content_length"] == 99
    assert data.event["data"]["word_count"] == 7


def test_content_drop_policy() -> None:
    redactor = Redactor(KEY, default_policy=PrivacyPolicy(content="drop"))
    data = redactor.redact_event(_event(content="one two three")).event["data"]
    assert data == {"content_length": 13, "word_count": 3}


def test_content_store_policy_still_scrubs() -> None:
    redactor = Redactor(KEY, policies={"demo": PrivacyPolicy(content="store")})
    result = redactor.redact_event(_event(content=f"use {SECRET} please"))
    assert result.event["data"]["content"] == "use [REDACTED:github] please"
    assert result.event["data"]["word_count"] == 3
    assert result.findings == [Finding("github", "data.content")]
    # Another stack falls back to the default policy.
    other = redactor.redact_event({**_event(content="x y"), "stack_name": "other"})
    assert "content" not in other.event["data"]


def test_policy_from_dict_and_validation() -> None:
    policy = PrivacyPolicy.from_dict({"content": "store", "pseudonymize_users": False})
    assert policy == PrivacyPolicy(content="store", pseudonymize_users=False)
    assert msgspec.json.decode(b'{"content": "drop"}', type=PrivacyPolicy).content == "drop"
    with pytest.raises(msgspec.ValidationError):
        PrivacyPolicy.from_dict({"content": "keep"})
    with pytest.raises(msgspec.ValidationError):
        PrivacyPolicy.from_dict({"contnet": "store"})
    assert Redactor(KEY, policies={"a": policy}).policy_for("a") is policy
    assert Redactor(KEY).policy_for("a") == PrivacyPolicy()


def test_user_pseudonymization() -> None:
    redactor = Redactor(KEY)
    event = {**_event(), "user_id": "alice@example.com"}
    pseudonym = redactor.redact_event(event).event["user_id"]
    assert pseudonym == "u_" + redactor.hash_text("alice@example.com")[:16]
    assert redactor.redact_event({**event, "user_id": pseudonym}).event["user_id"] == pseudonym
    assert Redactor(b"other").redact_event(event).event["user_id"] != pseudonym
    plain = Redactor(KEY, default_policy=PrivacyPolicy(pseudonymize_users=False))
    assert plain.redact_event(event).event["user_id"] == "alice@example.com"


def test_args_hashed_canonically() -> None:
    redactor = Redactor(KEY)
    one = redactor.redact_event(_event(args={"b": 1, "a": [SECRET]})).event["data"]
    two = redactor.redact_event(_event(args={"a": [SECRET], "b": 1})).event["data"]
    assert "args" not in one
    assert one["args_hash"] == two["args_hash"]
    assert one["args_hash"] == redactor.hash_text(
        json.dumps({"a": [SECRET], "b": 1}, separators=(",", ":"))
    )
    sent = redactor.redact_event(_event(args={"a": 1}, args_hash="client")).event["data"]
    assert sent == {"args_hash": "client"}


def test_data_transforms_in_an_event() -> None:
    result = Redactor(KEY).redact_event(
        _event(
            command="FOO=1 git push https://t@h/x",
            file_path="/home/alice/a/b.py",
            url="https://u:p@x.com/a?b=1#c",
            path="/v1/items?token=abc",
        )
    )
    assert result.event["data"] == {
        "command": "git",
        "file_path": "/home/<user>/a/*.py",
        "url": "https://x.com/a?b=",
        "path": "/v1/items?token=",
    }
    assert Finding("url_credentials", "data.url") in result.findings


def test_secret_keys_anywhere() -> None:
    event = _event(extra={"nested": [{"apiKey": "abc", "tokens_in": 5}]})
    event["attributes"] = {"x-api-key": "k", "gen_ai.usage.input_tokens": 7, "password": None}
    event["api_token"] = "top-level"
    result = Redactor(KEY).redact_event(event)
    assert result.event["data"]["extra"] == {
        "nested": [{"apiKey": "[REDACTED:api_key]", "tokens_in": 5}]
    }
    assert result.event["attributes"] == {
        "x-api-key": "[REDACTED:api_key]",
        "gen_ai.usage.input_tokens": 7,
        "password": None,
    }
    assert result.event["api_token"] == "[REDACTED:token]"
    assert set(result.findings) == {
        Finding("api_key", "data.extra.nested[0].apiKey"),
        Finding("api_key", "attributes.x-api-key"),
        Finding("token", "api_token"),
    }


def test_environment_dicts_are_dropped_whole() -> None:
    value, found = Redactor(KEY).redact_value(
        {"env": {"HOME": "/root"}, "environment": "prod", "environ": "PATH=/bin"}
    )
    assert value == {"env": "[REDACTED:env]", "environment": "prod", "environ": "[REDACTED:env]"}
    assert [f.rule for f in found] == ["env", "env"]


def test_json_in_strings_is_redacted_and_reencoded() -> None:
    inner = json.dumps({"password": "p4ss", "n": [1, 2]})
    value, found = Redactor(KEY).redact_value({"body": inner})
    assert json.loads(value["body"]) == {"password": "[REDACTED:password]", "n": [1, 2]}
    assert found == [Finding("password", "body.password")]
    untouched = json.dumps({"a": "b"}, indent=2)
    assert Redactor(KEY).redact_value(untouched)[0] is untouched


def test_secret_in_attribute_key() -> None:
    value, found = Redactor(KEY).redact_value({f"token {SECRET}": 1}, "attributes")
    assert value == {"token [REDACTED:github]": 1}
    assert found == [Finding("github", "attributes.token [REDACTED:github]")]


def test_odd_values_never_raise() -> None:
    class Broken:
        def __str__(self) -> str:
            raise RuntimeError("no")

    deep: Any = SECRET
    for _ in range(MAX_DEPTH + 10):
        deep = [deep]
    value, found = Redactor(KEY).redact_value(
        {
            "b": b"bytes " + SECRET.encode(),
            "o": Broken(),
            "t": (1, SECRET),
            3: "int key",
            "deep": deep,
            "nan": float("nan"),
            "s": "\ud800 lone surrogate password=x1234567",
        }
    )
    assert value["b"] == "bytes [REDACTED:github]"
    assert value["o"] == "[REDACTED:unprintable]"
    assert value["t"] == [1, "[REDACTED:github]"]
    assert value[3] == "int key"
    assert SECRET not in repr(value["deep"])
    assert Finding("depth", "deep" + "[0]" * (MAX_DEPTH - 1)) in found


def test_redact_event_returns_new_dicts() -> None:
    event = _event(model="gpt-4o")
    result = Redactor(KEY).redact_event(event)
    assert result.event == event
    assert result.event is not event
    assert result.event["data"] is not event["data"]


def test_privacy_imports_without_server_dependencies() -> None:
    code = (
        "import sys; import stacklens.privacy; "
        "bad = {'fastapi', 'duckdb', 'sqlalchemy', 'prometheus_client', 'pyarrow', 'uvicorn',"
        " 'httpx', 'structlog'} & {m.split('.')[0] for m in sys.modules}; print(sorted(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
