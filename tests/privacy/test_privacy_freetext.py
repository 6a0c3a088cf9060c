"""Issue 11: free text the hub keeps in ``metadata.sqlite`` is scrubbed before it is
written (silence comments and authors, stack descriptions and health URLs, key
labels), read back from the real SQLite file."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from stacklens.alerting.silences import SilenceStore
from stacklens.metadata import KeyRing, MetadataDB, StackRegistry
from stacklens.privacy.freetext import scrub_free_text, scrub_health_url
from stacklens.testing.secrets import DB_URL_PASSWORD, GITHUB_PAT_CLASSIC, HUB_KEY, OPENAI_PROJECT


@pytest.fixture
def db(tmp_path: Path) -> Iterator[MetadataDB]:
    database = MetadataDB(f"sqlite:///{tmp_path / 'metadata.sqlite'}")
    yield database
    database.close()


def _file_text(tmp_path: Path, table: str) -> str:
    with sqlite3.connect(tmp_path / "metadata.sqlite") as con:
        return "\n".join(str(row) for row in con.execute(f"SELECT * FROM {table}"))


def test_health_url_loses_user_info_and_secret_query_values() -> None:
    url = f"https://probe:{DB_URL_PASSWORD}@stack.internal:8080/health?token=abc123XYZ789&v=1"
    assert scrub_health_url(url) == "https://stack.internal:8080/health?token=[REDACTED:token]&v=1"
    assert scrub_health_url("http://localhost:8000/healthz") == "http://localhost:8000/healthz"
    assert scrub_health_url(None) is None


def test_ordinary_free_text_is_kept() -> None:
    for text in ("maintenance window, ask Jane", "support bot (EU)", "ci reader", ""):
        assert scrub_free_text(text) == text


def test_stack_description_and_health_url(db: MetadataDB, tmp_path: Path) -> None:
    StackRegistry(db).create(
        "bot",
        description=f"support bot, key {OPENAI_PROJECT}",
        health_url=f"https://probe:{DB_URL_PASSWORD}@bot.internal/health",
    )
    stored = _file_text(tmp_path, "stacks")
    assert OPENAI_PROJECT not in stored and DB_URL_PASSWORD not in stored
    assert "support bot, key [REDACTED:openai]" in stored
    assert "https://bot.internal/health" in stored


def test_key_label(db: MetadataDB, tmp_path: Path) -> None:
    record, _ = KeyRing(db).create("read", label=f"ci {GITHUB_PAT_CLASSIC}")
    assert record.label == "ci [REDACTED:github]"
    assert GITHUB_PAT_CLASSIC not in _file_text(tmp_path, "api_keys")


def test_silence_comment_and_created_by(db: MetadataDB, tmp_path: Path) -> None:
    silence = SilenceStore(db).add(
        ['alertname="X"'],
        duration_ns=3600 * 10**9,
        created_by=f"bot {HUB_KEY}",
        comment=f"rotating password={DB_URL_PASSWORD}",
    )
    assert silence.comment == "rotating password=[REDACTED:password]"
    stored = _file_text(tmp_path, "alert_silences")
    assert HUB_KEY not in stored and DB_URL_PASSWORD not in stored
