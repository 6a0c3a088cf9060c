"""``stacklens backup`` (asks the running hub: it holds the store's lock) and
``stacklens restore`` (copies a backup into a new data directory, hub stopped)."""

from __future__ import annotations

import os
from pathlib import Path

import click

__all__ = ["backup", "restore"]


@click.command()
@click.option(
    "--url",
    default=lambda: os.environ.get("STACKLENS_URL", "http://127.0.0.1:4320"),
    show_default="$STACKLENS_URL or http://127.0.0.1:4320",
    help="The running hub.",
)
@click.option(
    "--api-key",
    envvar="STACKLENS_API_KEY",
    required=True,
    help="An admin key for all stacks (env STACKLENS_API_KEY).",
)
def backup(url: str, api_key: str) -> None:
    """Back up the running hub into <data dir>/backups/<UTC time>/ and print the path."""
    import httpx

    try:
        answer = httpx.post(
            url.rstrip("/") + "/api/v1/backup", headers={"X-API-Key": api_key}, timeout=600
        )
    except httpx.HTTPError as exc:
        raise click.ClickException(f"cannot reach the hub at {url}: {exc}") from None
    if answer.status_code != 200:
        try:
            reason = answer.json().get("error") or answer.text
        except ValueError:
            reason = answer.text
        raise click.ClickException(f"{url} answered {answer.status_code}: {reason}")
    body = answer.json()
    manifest = body["manifest"]
    click.echo(f"backup of {manifest['events']} events written to {body['path']}")
    click.echo(body["path"])


@click.command()
@click.argument("backup_dir", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="An empty (or new) data directory to restore into.",
)
def restore(backup_dir: Path, data_dir: Path) -> None:
    """Restore BACKUP_DIR into an empty data directory; then start the hub on it."""
    from stacklens.operations.backup import restore_backup

    try:
        manifest = restore_backup(backup_dir, data_dir)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"restored {manifest.events} events into {data_dir}")
    click.echo(f"start the hub on it: stacklens serve --data-dir {data_dir}")
