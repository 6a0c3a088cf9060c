"""``stacklens quarantine list|retry``.

``list`` reads the quarantine files in the data directory: they are plain files, so it
works whether or not a hub is running. ``retry`` loads entries into the store: with
``--url`` through the running hub's API (DuckDB locks its file to the hub's process),
without it directly on the data directory, which only works while no hub holds it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import httpx
import msgspec

__all__ = ["quarantine"]

_STREAMS = ("events", "metrics")


def _data_dir(data_dir: Path | None) -> Path:
    from stacklens.config import load_config

    try:
        return load_config({"data_dir": data_dir}).data_dir
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


def _quarantines(data_dir: Path) -> dict[str, Any]:
    from stacklens.ingest.quarantine import Quarantine

    return {stream: Quarantine(data_dir / "quarantine", stream) for stream in _STREAMS}


def _hub(url: str, key: str | None) -> httpx.Client:
    if not key:
        raise click.UsageError("--url needs --key (an admin key; env STACKLENS_API_KEY)")
    return httpx.Client(base_url=url.rstrip("/"), headers={"X-API-Key": key}, timeout=60.0)


def _answer(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        raise click.ClickException(f"hub answered {response.status_code}: {response.text[:300]}")
    return response.json()


@click.group()
def quarantine() -> None:
    """Rows the store refused: list them, load them again."""


_DATA_DIR = click.option(
    "--data-dir", type=click.Path(path_type=Path, file_okay=False), default=None,
    help="Data directory (env STACKLENS_DATA_DIR).",
)  # fmt: skip
_URL = click.option("--url", default=None, help="Go through this running hub's API.")
_KEY = click.option("--key", envvar="STACKLENS_API_KEY", default=None, help="Admin key for --url.")


@quarantine.command("list")
@_DATA_DIR
@_URL
@_KEY
@click.option("--json", "as_json", is_flag=True, help="The entries and their rows as JSON.")
def list_entries(data_dir: Path | None, url: str | None, key: str | None, as_json: bool) -> None:
    """One line per entry: id, stream, rows, error."""
    if url is not None:
        with _hub(url, key) as client:
            document = _answer(client.get("/api/v1/quarantine"))
    else:
        from stacklens.api.quarantine import describe

        document = describe(_quarantines(_data_dir(data_dir)))
    if as_json:
        click.echo(msgspec.json.format(msgspec.json.encode(document), indent=2).decode())
        return
    for entry in document["entries"]:
        click.echo(
            f"{entry['stream']}/{entry['id']}  rows={entry['rows']}  "
            f"attempts={entry['attempts']}  {entry['error'][:200]}"
        )
    total = sum(document["rows"].values())
    click.echo(f"{len(document['entries'])} entries, {total} rows quarantined", err=True)


@quarantine.command("retry")
@_DATA_DIR
@_URL
@_KEY
@click.argument("entries", nargs=-1)
def retry(
    data_dir: Path | None, url: str | None, key: str | None, entries: tuple[str, ...]
) -> None:
    """Load ENTRIES (``stream/id``; none: every entry) into the store again."""
    if url is not None:
        with _hub(url, key) as client:
            wanted = list(entries) or [
                f"{e['stream']}/{e['id']}"
                for e in _answer(client.get("/api/v1/quarantine"))["entries"]
            ]
            outcomes = [
                _answer(client.post(f"/api/v1/quarantine/{_split(name)}/retry")) for name in wanted
            ]
    else:
        outcomes = _retry_locally(_data_dir(data_dir), entries)
    failed = 0
    for outcome in outcomes:
        state = "loaded" if outcome["loaded"] else f"still refused: {outcome['error'][:200]}"
        failed += not outcome["loaded"]
        click.echo(f"{outcome['stream']}/{outcome['id']}  {state}")
    if failed:
        raise click.ClickException(f"{failed} of {len(outcomes)} entries still refused")


def _split(name: str) -> str:
    stream, _, entry_id = name.partition("/")
    if stream not in _STREAMS or not entry_id:
        raise click.UsageError(f"{name!r}: expected stream/id, e.g. events/0000000000000003-000012")
    return f"{stream}/{entry_id}"


def _rollups(d: Any) -> tuple[list[str], dict[str, list[str]]]:
    from stacklens.analytics.rollups import ddl_statements, load_statements

    return ddl_statements(d), {"events": load_statements(d)}  # rollups count retried rows


def _retry_locally(data_dir: Path, entries: tuple[str, ...]) -> list[dict[str, Any]]:
    from stacklens.config import load_config
    from stacklens.ingest.loader import retry_entry
    from stacklens.store.urls import StoreOptions, StoreUnavailableError, open_store

    quarantines = _quarantines(data_dir)
    wanted = [_split(name).split("/", 1) for name in entries] or [
        [stream, e.id] for stream, q in quarantines.items() for e in q.entries()
    ]
    try:
        # The hub's store (STACKLENS_STORE_URL; default: the data dir's DuckDB file).
        store = open_store(load_config().store_url, StoreOptions(data_dir=data_dir), _rollups)
    except StoreUnavailableError as exc:
        raise click.ClickException(
            f"cannot open the store ({exc}); while a hub holds the data dir, use --url"
        ) from None
    outcomes = []
    try:
        for stream, entry_id in wanted:
            try:
                outcome = retry_entry(store, quarantines[stream], entry_id)
            except KeyError:
                raise click.ClickException(f"no quarantine entry {stream}/{entry_id}") from None
            outcomes.append({"id": entry_id, "stream": stream, **outcome._asdict()})
    finally:
        store.close()
    return outcomes
