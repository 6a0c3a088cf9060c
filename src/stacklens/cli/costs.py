"""CLI commands of the analytics side, registered on the main ``stacklens`` group:

    stacklens prices backfill --since 2026-01-01          (admin key)
    stacklens billing export --month 2026-01 --format csv -o jan.csv
    stacklens budgets set john-dev --usd 200                (admin key)

Both go through the running hub's HTTP API: DuckDB locks its file to one process.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from stacklens.cli.options import KEY, URL

__all__ = ["billing", "budgets", "prices"]


def _fail(response: object) -> None:
    import httpx

    assert isinstance(response, httpx.Response)
    if response.status_code != 200:
        try:
            detail = response.json().get("error", response.text)
        except ValueError:
            detail = response.text
        raise click.ClickException(f"hub answered {response.status_code}: {str(detail)[:300]}")


@click.group()
def prices() -> None:
    """LLM prices: recompute stored costs."""


@prices.command("backfill")
@URL
@KEY
@click.option("--since", required=True, help="YYYY-MM-DD or RFC 3339: reprice events from then.")
@click.option(
    "--timeout", type=float, default=600.0, show_default=True, help="Seconds to wait for the hub."
)
def prices_backfill(url: str, key: str, since: str, timeout: float) -> None:
    """Recompute hub-computed (and missing) costs since DATE with the current prices and
    overrides; client-sent costs are kept. Needs an admin key."""
    import httpx

    response = httpx.post(
        f"{url.rstrip('/')}/api/v1/costs/backfill",
        params={"since": since},
        headers={"X-API-Key": key},
        timeout=timeout,
    )
    _fail(response)
    body = response.json()
    click.echo(
        f"examined {body['examined']} events, repriced {body['repriced']}, "
        f"still unpriced {body['unpriced']}"
    )


@click.group()
def billing() -> None:
    """Billing records."""


@billing.command("export")
@URL
@KEY
@click.option("--month", required=True, help="The month to export, YYYY-MM.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "parquet"]),
    default="csv",
    show_default=True,
    help="File format.",
)
@click.option("--stack", default=None, help="Only this stack.")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="File to write (default stacklens-billing-MONTH.FORMAT; '-' for stdout).",
)
def billing_export(
    url: str, key: str, month: str, fmt: str, stack: str | None, output: Path | None
) -> None:
    """Export a month of billing records (day x stack x user x model x provider x agent)."""
    import httpx

    params = {"month": month, "format": fmt}
    if stack:
        params["stack"] = stack
    response = httpx.get(
        f"{url.rstrip('/')}/api/v1/billing/export",
        params=params,
        headers={"X-API-Key": key},
        timeout=300.0,
    )
    _fail(response)
    if output is not None and str(output) == "-":
        sys.stdout.buffer.write(response.content)
        return
    target = output or Path(f"stacklens-billing-{month}.{fmt}")
    target.write_bytes(response.content)
    click.echo(f"wrote {target} ({len(response.content)} bytes)", err=True)


@click.group()
def budgets() -> None:
    """Monthly budgets per stack (USD or tokens), through the hub's API."""


def _budgets_url(url: str, stack: str | None = None) -> str:
    base = f"{url.rstrip('/')}/api/v1/budgets"
    return base if stack is None else f"{base}/{stack}"


@budgets.command("list")
@URL
@KEY
def budgets_list(url: str, key: str) -> None:
    """Budgets with month-to-date use (a read key; a bound key sees its stack)."""
    import httpx

    response = httpx.get(_budgets_url(url), headers={"X-API-Key": key}, timeout=30.0)
    _fail(response)
    click.echo(f"{'STACK':<24}  {'BUDGET':>14}  {'USED':>14}  STATUS")
    for b in response.json()["budgets"]:
        if b.get("monthly_usd") is not None:
            limit, used = f"${b['monthly_usd']:,.2f}", f"${b.get('used_usd') or 0:,.2f}"
        else:
            limit = f"{b['monthly_tokens']:,} tok"
            used = f"{b.get('used_tokens') or 0:,} tok"
        click.echo(f"{b['stack_name']:<24}  {limit:>14}  {used:>14}  {b.get('status', '')}")


@budgets.command("set")
@URL
@KEY
@click.argument("stack")
@click.option("--usd", type=float, default=None, help="Monthly budget in US dollars.")
@click.option("--tokens", type=int, default=None, help="Monthly budget in tokens.")
def budgets_set(url: str, key: str, stack: str, usd: float | None, tokens: int | None) -> None:
    """Set STACK's monthly budget (an admin key for it)."""
    import httpx

    if usd is None and tokens is None:
        raise click.UsageError("give --usd, --tokens or both")
    body: dict[str, float | int] = {}
    if usd is not None:
        body["monthly_usd"] = usd
    if tokens is not None:
        body["monthly_tokens"] = tokens
    response = httpx.put(
        _budgets_url(url, stack), json=body, headers={"X-API-Key": key}, timeout=30.0
    )
    _fail(response)
    click.echo(f"budget of {stack} set")


@budgets.command("delete")
@URL
@KEY
@click.argument("stack")
def budgets_delete(url: str, key: str, stack: str) -> None:
    """Remove STACK's budget (an admin key for it)."""
    import httpx

    response = httpx.delete(_budgets_url(url, stack), headers={"X-API-Key": key}, timeout=30.0)
    _fail(response)
    click.echo(f"budget of {stack} removed")
