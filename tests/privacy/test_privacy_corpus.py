"""The planted-secret corpus through the engine: nothing leaks, nothing innocent changes."""

from __future__ import annotations

import time
from typing import Any

import msgspec
import pytest

from stacklens import schema
from stacklens.privacy import Finding, PrivacyPolicy, Redactor
from stacklens.testing import secrets as corpus

KEY = b"test-deployment-key-0123456789abcdef"
POLICIES = [
    PrivacyPolicy(),
    PrivacyPolicy(content="drop"),
    PrivacyPolicy(content="store", pseudonymize_users=False),
]


def _canonical(raw: dict[str, Any]) -> dict[str, Any]:
    return schema.normalize(raw, default_stack=None, now_ns=time.time_ns(), new_id=lambda: "id")


def _leaks(blob: bytes) -> list[tuple[int, bytes]]:
    leaks = []
    for index, secret in enumerate(corpus.SECRETS):
        forms = corpus.encoded_forms(secret)
        if len(secret) >= 24:
            # A slice from the random tail catches a secret redacted only in part.
            start = len(secret) * 2 // 3
            forms.append(secret[start : start + 12].encode())
        leaks.extend((index, form[:12]) for form in forms if form in blob)
    return leaks


def test_corpus_is_large_and_unique() -> None:
    assert len(corpus.SECRETS) >= 40
    assert len(set(corpus.SECRETS)) == len(corpus.SECRETS)


def test_every_secret_is_planted_somewhere() -> None:
    blob = msgspec.json.encode(corpus.secret_events())
    for secret in corpus.SECRETS:
        assert any(form in blob for form in corpus.encoded_forms(secret)), secret[:8]


def test_secret_events_are_valid_raw_events() -> None:
    for raw in corpus.secret_events():
        event = _canonical(raw)
        assert event["stack_name"] == corpus.STACK
        assert isinstance(raw["timestamp"], str)


@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: f"{p.content}-{p.pseudonymize_users}")
def test_no_planted_secret_survives(policy: PrivacyPolicy) -> None:
    redactor = Redactor(KEY, default_policy=policy)
    stored = b"\n".join(
        msgspec.json.encode(redactor.redact_event(_canonical(raw)).event)
        for raw in corpus.secret_events()
    )
    assert _leaks(stored) == []


def test_the_leak_check_itself_catches_a_leak() -> None:
    blob = msgspec.json.encode([_canonical(raw) for raw in corpus.secret_events()])
    assert len({index for index, _ in _leaks(blob)}) == len(corpus.SECRETS)


def test_raw_events_without_normalization_do_not_leak() -> None:
    # ``privacy check`` feeds raw-ish lines straight in: same guarantee.
    redactor = Redactor(KEY)
    stored = msgspec.json.encode(
        [redactor.redact_event(raw).event for raw in corpus.secret_events()]
    )
    assert _leaks(stored) == []


def _findings_of(index: int) -> set[Finding]:
    redactor = Redactor(KEY, default_policy=PrivacyPolicy(content="store"))
    raw = next(e for e in corpus.secret_events() if e["event_id"] == f"planted-{index:03d}")
    return set(redactor.redact_event(_canonical(raw)).findings)


@pytest.mark.parametrize(
    ("index", "expected"),
    [
        (0, Finding("env", "message")),
        (2, Finding("openai", "message")),
        (3, Finding("xai", "attributes.llm.provider.key")),
        (4, Finding("huggingface", "data.content")),
        (6, Finding("huggingface", "data.file_path")),
        (7, Finding("url_credentials", "data.url")),
        (12, Finding("password", "attributes.db_password")),
        (12, Finding("api_key", "attributes.http.request.header.x-api-key")),
        (12, Finding("secret", "attributes.clientSecret")),
        (12, Finding("cookie", "attributes.session_cookie")),
        (13, Finding("openai", "attributes.[REDACTED:openai]")),
        (13, Finding("private_key", "attributes.service_account_json.private_key")),
        (14, Finding("api_key", "data.request_body.request.headers.api_key")),
        (15, Finding("private_key", "data.ssh.identity")),
        (16, Finding("env", "data.env")),
        (17, Finding("aws_access_key", "message")),
        (17, Finding("aws_secret_key", "data.aws.aws_secret_access_key")),
        (18, Finding("azure_key", "message")),
        (19, Finding("slack", "message")),
        (19, Finding("slack_webhook", "data.alert_webhook")),
        (19, Finding("discord_webhook", "data.discord[0]")),
        (20, Finding("stripe", "message")),
        (20, Finding("sendgrid", "attributes.mail.provider.key")),
        (21, Finding("jwt", "session_id")),
        (21, Finding("authorization", "data.headers.Authorization")),
        (22, Finding("gitlab", "message")),
        (22, Finding("token", "data.providers[1].oauth.access_token")),
        (23, Finding("anthropic", "data.extra[1].admin")),
        (23, Finding("bearer", "attributes.nim")),
    ],
)
def test_findings_name_rule_and_path(index: int, expected: Finding) -> None:
    assert expected in _findings_of(index)


def test_findings_never_hold_values() -> None:
    redactor = Redactor(KEY, default_policy=PrivacyPolicy(content="store"))
    findings = [
        f for raw in corpus.secret_events() for f in redactor.redact_event(_canonical(raw)).findings
    ]
    assert len(findings) >= len(corpus.SECRETS)
    text = msgspec.json.encode(findings)
    assert _leaks(text) == []


def test_on_redaction_counts_per_rule_per_event() -> None:
    calls: list[tuple[str, int]] = []
    redactor = Redactor(KEY, on_redaction=lambda rule, count: calls.append((rule, count)))
    raw = next(e for e in corpus.secret_events() if e["event_id"] == "planted-019")
    redactor.redact_event(_canonical(raw))
    assert sorted(calls) == [("discord_webhook", 1), ("slack", 3), ("slack_webhook", 1)]


def test_innocuous_false_positive_rate() -> None:
    redactor = Redactor(KEY, default_policy=PrivacyPolicy(content="store"))
    changed, total = corpus.false_positives(redactor.redact_value)
    rate = len(changed) / total
    print(f"false-positive rate: {len(changed)}/{total} = {rate:.2%}")
    assert rate == 0, changed


def test_false_positive_measure_counts_a_changed_item() -> None:
    # The measure itself: a redactor that flags everything scores every item.
    changed, total = corpus.false_positives(lambda value, *path: ("x", ["f"]))
    assert len(changed) == total == len(corpus.INNOCUOUS) + len(corpus.INNOCUOUS_KEYS)


def test_innocuous_events_come_through_unchanged() -> None:
    policy = PrivacyPolicy(content="store", pseudonymize_users=False)
    redactor = Redactor(KEY, default_policy=policy)
    for raw in corpus.innocuous_events():
        event = _canonical(raw)
        result = redactor.redact_event(event)
        assert result.findings == []
        expected = dict(event)
        if "content" in event["data"]:
            content = event["data"]["content"]
            expected["data"] = {
                **event["data"],
                "content_length": len(content),
                "word_count": len(content.split()),
            }
        assert result.event == expected
