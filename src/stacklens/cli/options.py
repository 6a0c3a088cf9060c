"""Options every command family shares, spelled once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

__all__ = ["DATA_DIR", "KEY", "URL", "open_metadata"]

DATA_DIR = click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Data directory (env STACKLENS_DATA_DIR; default ./stacklens-data).",
)
URL = click.option(
    "--url",
    envvar="STACKLENS_URL",
    default="http://127.0.0.1:4320",
    show_default=True,
    help="The hub's URL (env STACKLENS_URL).",
)
KEY = click.option(
    "--key", envvar="STACKLENS_API_KEY", required=True, help="An API key (env STACKLENS_API_KEY)."
)


def open_metadata(url: str | None, data_dir: Path) -> Any:
    """The metadata database (``STACKLENS_METADATA_URL`` or the data dir's SQLite) for a
    command that writes it directly; one line, not a traceback, when it cannot open."""
    from stacklens.metadata.db import MetadataDB, MetadataUnavailableError

    try:
        return MetadataDB.open(url, data_dir)
    except MetadataUnavailableError as exc:
        raise click.ClickException(f"{exc} (STACKLENS_METADATA_URL)") from None
