"""Value detectors inside free text: only the secret part goes."""

from __future__ import annotations

import time

import pytest

from stacklens.privacy import scrub_text
from stacklens.testing import secrets as s


def _scrub(text: str) -> tuple[str, list[str]]:
    found: list[str] = []
    return scrub_text(text, found), found


@pytest.mark.parametrize(
    ("secret", "rule"),
    [
        (s.OPENAI_LEGACY, "openai"),
        (s.OPENAI_PROJECT, "openai"),
        (s.OPENAI_SERVICE, "openai"),
        (s.ANTHROPIC, "anthropic"),
        (s.ANTHROPIC_ADMIN, "anthropic"),
        (s.GOOGLE_API, "google_api_key"),
        (s.GOOGLE_OAUTH, "google_oauth"),
        (s.GOOGLE_CLIENT_SECRET, "google_oauth"),
        (s.GROQ, "groq"),
        (s.HUGGINGFACE, "huggingface"),
        (s.REPLICATE, "replicate"),
        (s.XAI, "xai"),
        (s.PERPLEXITY, "perplexity"),
        (s.NVIDIA, "nvidia"),
        (s.AWS_ACCESS_KEY, "aws_access_key"),
        (s.AWS_SESSION_KEY, "aws_access_key"),
        (s.GITHUB_PAT_CLASSIC, "github"),
        (s.GITHUB_OAUTH, "github"),
        (s.GITHUB_APP, "github"),
        (s.GITHUB_FINE_GRAINED, "github"),
        (s.GITLAB, "gitlab"),
        (s.SLACK_BOT, "slack"),
        (s.SLACK_USER, "slack"),
        (s.SLACK_APP, "slack"),
        (s.STRIPE_SECRET, "stripe"),
        (s.STRIPE_RESTRICTED, "stripe"),
        (s.STRIPE_WEBHOOK, "stripe"),
        (s.SENDGRID, "sendgrid"),
        (s.NPM, "npm"),
        (s.JWT_HS256, "jwt"),
        (s.JWT_RS256, "jwt"),
        (s.GCP_PRIVATE_KEY, "private_key"),
        (s.RSA_PRIVATE_KEY, "private_key"),
        (s.OPENSSH_PRIVATE_KEY, "private_key"),
    ],
)
def test_shaped_secret_in_a_log_line(secret: str, rule: str) -> None:
    result, found = _scrub(f"request failed (key {secret.strip()}) retrying")
    assert result == f"request failed (key [REDACTED:{rule}]) retrying"
    assert found == [rule]


@pytest.mark.parametrize(
    ("text", "expected", "rules"),
    [
        ("export OPENAI_API_KEY=abc123xyz", "export OPENAI_API_KEY=[REDACTED:env]", ["env"]),
        ("DB_PASSWORD=hunter2!x ./run", "DB_PASSWORD=[REDACTED:env] ./run", ["env"]),
        (
            '{"user": "a", "password": "p@ss w0rd"} sent',
            '{"user": "a", "password": "[REDACTED:password]"} sent',
            ["password"],
        ),
        ("password: hunter22", "password: [REDACTED:password]", ["password"]),
        ('A: "password": "hunter22"', 'A: "password": "[REDACTED:password]"', ["password"]),
        ("login ok pwd=abc user=bob", "login ok pwd=[REDACTED:password] user=bob", ["password"]),
        (
            "Authorization: Bearer abc.def-123",
            "Authorization: [REDACTED:authorization]",
            ["authorization"],
        ),
        ("call with Bearer abcdef123456 now", "call with Bearer [REDACTED:bearer] now", ["bearer"]),
        ("header Basic dXNlcjpwYXNz", "header Basic [REDACTED:basic_auth]", ["basic_auth"]),
        (
            "Cookie: sessionid=abc123def; theme=dark",
            "Cookie: [REDACTED:cookie]; theme=dark",
            ["cookie"],
        ),
        (
            "pg postgres://app:s3cret@db:5432/app ok",
            "pg postgres://db:5432/app ok",
            ["url_credentials"],
        ),
        (
            "x AccountKey=abc+def/ghi==;Endpoint",
            "x AccountKey=[REDACTED:azure_key];Endpoint",
            ["azure_key"],
        ),
        (
            "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "aws_secret_access_key = [REDACTED:aws_secret_key]",
            ["aws_secret_key"],
        ),
        ("max_tokens=4096 token=abc12345", "max_tokens=4096 token=[REDACTED:token]", ["token"]),
        ("foo=ghp_abcdefghijklmnopqrstuvwxyz0123456789", "foo=[REDACTED:github]", ["github"]),
    ],
)
def test_partial_redaction(text: str, expected: str, rules: list[str]) -> None:
    result, found = _scrub(text)
    assert result == expected
    assert found == rules
    again, more = _scrub(result)
    assert again == result
    assert more == []


@pytest.mark.parametrize(
    "text",
    [
        "Bearer authentication is required",
        "Basic usage of the library",
        "the bearer of bad news",
        "task-1234567890abcdefghijklmno",
        "risk-assessment-2024-report-final",
        "sk-learn-classification-pipeline-model",
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl x@y",
        "eyJhIjoxfQ== is base64 JSON, not a token",
        "token_count: 17 and prompt_tokens=5",
        "short",
    ],
)
def test_look_alikes_untouched(text: str) -> None:
    result, found = _scrub(text)
    assert result is text
    assert found == []


def test_unterminated_private_key_is_removed_to_the_end() -> None:
    result, found = _scrub("key:\n-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC")
    assert result == "key:\n[REDACTED:private_key]"
    assert found == ["private_key"]


def test_url_query_values_and_fragment_dropped_in_text() -> None:
    result, _ = _scrub("fetch https://api.example.com/v1/x?page=2&sig=abc#frag, then stop.")
    assert result == "fetch https://api.example.com/v1/x?page=&sig=, then stop."


def test_nested_urls_are_each_sanitized() -> None:
    result, found = _scrub("go https://a.com/r?to=https://u:p@b.com/x?tok=1 now")
    assert result == "go https://a.com/r?to=https://b.com/x?tok= now"
    assert found == ["url_credentials"]


@pytest.mark.parametrize(
    "text",
    [
        "sk-" * 5000,
        'a:"' * 5000,
        'password: "' + "x" * 16000,
        "token=" * 3000,
        "http://" * 3000,
        "Bearer " * 3000,
        "eyJ." * 4000,
        "-----BEGIN PRIVATE KEY-----" * 500,
        "abc.def-ghi_" * 1500 + "!",
        '\\"a\\": \\"' * 2000,
    ],
    ids=lambda text: repr(text[:12]),
)
def test_hostile_input_stays_fast(text: str) -> None:
    # Backtracking or recursion blow-ups would take seconds here, or raise.
    start = time.perf_counter()
    scrub_text(text, [])
    assert time.perf_counter() - start < 1.0


def test_jwt_glued_to_an_identifier_is_still_found() -> None:
    # Found by the cross-protocol planted-secret test: an attribute key "key_<jwt>".
    found: list[str] = []
    text = scrub_text(f"key_{s.JWT_HS256}", found)
    assert text == "key_[REDACTED:jwt]"
    assert found == ["jwt"]
