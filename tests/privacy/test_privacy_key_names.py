"""Secret key-name rules."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stacklens.privacy.key_names import KEYWORDS, KeyRule, key_rule, split_words


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("OPENAI_API_KEY", ["openai", "api", "key"]),
        ("clientSecret", ["client", "secret"]),
        ("x-api-key", ["x", "api", "key"]),
        ("APIKey", ["api", "key"]),
        ("llm.token_count.prompt", ["llm", "token", "count", "prompt"]),
    ],
)
def test_split_words(name: str, words: list[str]) -> None:
    assert split_words(name) == words


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("password", "password"),
        ("PASSWORD", "password"),
        ("db_password", "password"),
        ("passwd", "password"),
        ("pwd", "password"),
        ("dbPassword", "password"),
        ("password_hash", "password"),
        ("OPENAI_API_KEY", "api_key"),
        ("x-api-key", "api_key"),
        ("apiKey", "api_key"),
        ("api-key", "api_key"),
        ("openai_key", "api_key"),
        ("github_token", "token"),
        ("accessToken", "token"),
        ("id_token", "token"),
        ("refresh_token", "token"),
        ("X-Auth-Token", "token"),
        ("jwt", "token"),
        ("clientSecret", "secret"),
        ("client_secret", "secret"),
        ("secrets", "secret"),
        ("secret_key", "secret"),
        ("session_cookie", "cookie"),
        ("Cookie", "cookie"),
        ("set-cookie", "cookie"),
        ("private_key", "private_key"),
        ("privateKey", "private_key"),
        ("ssh_key", "private_key"),
        ("authorization", "authorization"),
        ("Proxy-Authorization", "authorization"),
        ("basic_auth", "authorization"),
        ("credentials", "credentials"),
        ("creds", "credentials"),
        ("aws_secret_access_key", "aws_secret_key"),
        ("SecretAccessKey", "aws_secret_key"),
        ("sentry_dsn", "connection_string"),
        ("connection_string", "connection_string"),
        ("environ", "env"),
        ("environment_variables", "env"),
        ("env.OPENAI_API_KEY", "env"),
    ],
)
def test_secret_names(name: str, rule: str) -> None:
    found = key_rule(name)
    assert found is not None, name
    assert found.rule == rule


@pytest.mark.parametrize(
    "name",
    [
        "tokens_in",
        "tokens_out",
        "token_count",
        "max_tokens",
        "prompt_tokens",
        "completion_tokens",
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.output_tokens",
        "llm.token_count.prompt",
        "llm.token_count.total",
        "tokensIn",
        "max_token",
        "eos_token",
        "token_type",
        "token_id",
        "tokenizer",
        "auth_method",
        "auth_provider",
        "author",
        "secret_name",
        "secretName",
        "private_key_id",
        "AWS_ACCESS_KEY_ID",
        "password_required",
        "password_length",
        "api_key_id",
        "cache_key",
        "sort_key",
        "primary_key",
        "idempotency_key",
        "keyboard",
        "key",
        "keys",
        "monkey",
        "passed",
        "pass_rate",
        "bypass",
        "session_id",
        "user_id",
        "secretary",
        "deployment.environment",
        "credentials_file",
        "token_url",
        "oauth_provider",
        "message",
        "content",
    ],
)
def test_ordinary_names(name: str) -> None:
    assert key_rule(name) is None, key_rule(name)


def test_env_names_only_flag_containers() -> None:
    assert key_rule("env") == KeyRule("env", container_only=True)
    assert key_rule("environment") == KeyRule("env", container_only=True)
    assert key_rule("environ") == KeyRule("env")


@settings(max_examples=300, deadline=None, database=None)
@given(st.text(max_size=40) | st.from_regex(r"[A-Za-z_.\-]{1,30}", fullmatch=True))
def test_every_flagged_name_holds_a_keyword(name: str) -> None:
    # The text scanner only looks for key names holding one of KEYWORDS.
    if key_rule(name) is not None:
        assert any(word in name.lower() for word in KEYWORDS), name
