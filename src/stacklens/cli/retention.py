"""CLI commands of retention, through the running hub's HTTP API (DuckDB locks its
file to the hub's process):

    stacklens users erase alice            (an admin key not bound to a stack)
    stacklens retention status             (a read key)
"""

from __future__ import annotations

from typing import Any

import click
import httpx
import msgspec

from stacklens.cli.options import KEY, URL

__all__ = ["retention", "users"]

_JSON = click.option("--json", "as_json", is_flag=True, help="The hub's answer as JSON.")


def _call(method: str, url: str, path: str, key: str, timeout: float = 600.0) -> Any:
    try:
        response = httpx.request(
            method, f"{url.rstrip('/')}{path}", headers={"X-API-Key": key}, timeout=timeout
        )
    except httpx.HTTPError as exc:
        raise click.ClickException(f"cannot reach the hub at {url}: {exc}") from None
    if response.status_code != 200:
        try:
            detail = response.json().get("error", response.text)
        except ValueError:
            detail = response.text
        raise click.ClickException(f"hub answered {response.status_code}: {str(detail)[:300]}")
    return response.json()


def _echo_json(document: Any) -> None:
    click.echo(msgspec.json.format(msgspec.json.encode(document), indent=2).decode())


@click.group()
def users() -> None:
    """A user's data: erase it (the export is ``GET /api/v1/users/ID/export``)."""


@users.command("erase")
@click.argument("user_id")
@URL
@KEY
@_JSON
def erase(user_id: str, url: str, key: str, as_json: bool) -> None:
    """Remove USER_ID's events, logs and session summaries in every tier and in the
    spool; billing records keep their amounts without the id. USER_ID is the raw id or
    its pseudonym (u_…). Needs an admin key not bound to a stack; audited."""
    from urllib.parse import quote

    body = _call("DELETE", url, f"/api/v1/users/{quote(user_id, safe='')}", key)
    if as_json:
        _echo_json(body)
        return
    removed = ", ".join(f"{tier} {n}" for tier, n in body["removed"].items())
    click.echo(f"erased {body['user_id']}: {removed}")
    click.echo(
        f"billing records anonymized {body['billing_records_anonymized']}; "
        f"audit record {body['audit_id']}"
    )


@click.group()
def retention() -> None:
    """What each retention tier keeps."""


@retention.command("status")
@URL
@KEY
@_JSON
def status(url: str, key: str, as_json: bool) -> None:
    """Per tier: the configured period, the oldest data kept, bytes on disk and when
    the next data leaves it."""
    body = _call("GET", url, "/api/v1/retention", key, timeout=60.0)
    if as_json:
        _echo_json(body)
        return
    header = ("TIER", "PERIOD", "OLDEST", "BYTES", "NEXT DROP")
    rows = [
        (
            t["tier"],
            t["period"],
            t["oldest"] or "-",
            str(t["bytes"]),
            t["next_drop"] or "-",
        )
        for t in body["tiers"]
    ]
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]
    for row in (header, *rows):
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
