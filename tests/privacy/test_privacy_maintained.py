"""The rules adopted from detect-secrets: each catches samples of its own documented
format (strings generated from the vendored regex), and the vendored data is what the
installed detect-secrets package holds."""

from __future__ import annotations

import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

from stacklens.privacy import maintained
from stacklens.privacy.detectors import VALUE_RULES, scrub_text
from stacklens.testing.regex_samples import sample

RULES = maintained.load_rules()
ROOT = Path(__file__).resolve().parents[2]

#: Every vendored pattern not adopted, and why (a new upstream pattern fails
#: test_every_vendored_pattern_is_adopted_or_explained until it is reviewed).
NOT_ADOPTED = {
    ("AWSKeyDetector", 1): "covered: aws_secret_key (key names, bare 40-character keys)",
    ("AzureStorageKeyDetector", 0): "covered: azure_key",
    ("BasicAuthDetector", 0): "covered: url_credentials",
    ("CloudantDetector", 0): "keyword form: the key-name rules",
    ("CloudantDetector", 1): "keyword form: the key-name rules",
    ("CloudantDetector", 2): "covered: url_credentials",
    ("CloudantDetector", 3): "covered: url_credentials",
    ("GitLabTokenDetector", 2): "covered: gitlab",
    ("GitLabTokenDetector", 4): "covered: gitlab",
    ("GitLabTokenDetector", 6): "covered: gitlab",
    ("IPPublicDetector", 0): "an IP address is not a secret",
    ("IbmCloudIamDetector", 0): "keyword form: the key-name rules",
    ("IbmCosHmacDetector", 0): "keyword form: the key-name rules",
    ("JwtTokenDetector", 0): "covered: jwt (the bare regex flags eyJ text)",
    ("NpmDetector", 0): "covered: the _authToken key name",
    ("OpenAIDetector", 0): "covered: openai",
    **{("PrivateKeyDetector", i): "covered: private_key (PEM blocks)" for i in range(6)},
    ("SendGridDetector", 0): "covered: sendgrid",
    ("SlackDetector", 0): "covered: slack (real tokens are 10+ characters)",
    ("SlackDetector", 1): "covered: slack_webhook",
    ("SoftlayerDetector", 0): "keyword form: the key-name rules",
    ("StripeDetector", 0): "covered: stripe",
}


def _samples(key: tuple[str, int], count: int = 25) -> list[str]:
    rule = RULES[key]
    rng = random.Random(f"{key[0]}-{key[1]}")
    flags = re.IGNORECASE if rule.ignorecase else 0
    return [sample(rule.pattern, rng, flags) for _ in range(count)]


def _secret_part(key: tuple[str, int], text: str) -> str:
    rule = RULES[key]
    match = re.search(rule.pattern, text, re.IGNORECASE if rule.ignorecase else 0)
    assert match is not None
    secret = maintained.ADOPTED[key].secret_group
    return match.group(secret).strip(" \t\r\n=:\"'")


@pytest.mark.parametrize("key", list(maintained.ADOPTED), ids=lambda k: f"{k[0]}-{k[1]}")
def test_each_adopted_rule_catches_its_documented_format(key: tuple[str, int]) -> None:
    rule = maintained.ADOPTED[key].rule
    assert rule in VALUE_RULES
    for text in _samples(key):
        secret = _secret_part(key, text)
        for placed in (text, f"saw {text} in the log", f'{{"value": "{text}"}}'):
            found: list[str] = []
            result = scrub_text(placed, found)
            assert secret not in result, (placed, result)
            assert rule in found, (placed, found)


def test_redaction_keeps_the_text_around_the_secret() -> None:
    token = _samples(("SquareOAuthDetector", 0), 1)[0]
    assert scrub_text(f"square {token} rotated", []) == "square [REDACTED:square_oauth] rotated"
    url = _samples(("SoftlayerDetector", 1), 1)[0]
    assert scrub_text(url, []).endswith("/[REDACTED:softlayer]")
    putty = "PuTTY-User-Key-File-2: ssh-rsa\nEncryption: none\nPrivate-Lines: 1\nAAAAgQC"
    assert scrub_text(f"key file:\n{putty}", []) == "key file:\n[REDACTED:private_key]"


def test_telegram_token_in_the_bot_api_url() -> None:
    token = _samples(("TelegramBotTokenDetector", 0), 1)[0]
    url = f"https://api.telegram.org/bot{token}/sendMessage"
    found: list[str] = []
    assert token not in scrub_text(url, found)
    assert "telegram" in found


@pytest.mark.parametrize(
    ("key", "text"),
    [
        (("TwilioKeyDetector", 0), "0xAC" + "3f1c2b9e7d4a4f6b9a2c8e5d1f0b7c3a"),
        (("TelegramBotTokenDetector", 0), "run 20241122103000123:" + "a1" * 18),
        (("MailchimpDetector", 0), "cache " + "ab12" * 10 + "-us14"),
    ],
    ids=lambda v: v[0] if isinstance(v, tuple) else "",
)
def test_matches_inside_longer_tokens_are_left_alone(key: tuple[str, int], text: str) -> None:
    # detect-secrets' patterns are written for whole files and match inside a longer
    # token; here they must start and end at a token boundary.
    rule = RULES[key]
    assert re.search(rule.pattern, text) is not None
    assert scrub_text(text, []) is text


def test_every_vendored_pattern_is_adopted_or_explained() -> None:
    assert set(RULES) == set(maintained.ADOPTED) | set(NOT_ADOPTED)
    assert not set(maintained.ADOPTED) & set(NOT_ADOPTED)


def test_vendored_data_matches_the_installed_detect_secrets() -> None:
    script = ROOT / "scripts" / "vendor_detect_secrets.py"
    done = subprocess.run([sys.executable, str(script), "--check"], check=False)
    assert done.returncode == 0, "run scripts/vendor_detect_secrets.py and review the diff"


def test_licence_ships_with_the_data() -> None:
    licence = ROOT / "src/stacklens/privacy/data/detect_secrets.LICENSE"
    assert "Apache License" in licence.read_text()
