"""``stacklens rules check|export`` and ``stacklens silence add|list|expire``.

Register on the main group: ``main.add_command(rules)``; ``main.add_command(silence)``.
Silences are written to the metadata database directly (SQLite works beside a running
hub); the engine picks them up at its next pass.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from stacklens.alerting.yamlnodes import FileError
from stacklens.cli.options import DATA_DIR, open_metadata

__all__ = ["rules", "silence"]


def _metadata(data_dir: Path | None) -> Any:
    from stacklens.config import load_config

    try:
        config = load_config({"data_dir": data_dir})
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    return open_metadata(config.metadata_url, config.data_dir)


@click.group()
def rules() -> None:
    """Check and export alert rules."""


@rules.command("check")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False, exists=True)
)
@click.option(
    "--config",
    "is_config",
    is_flag=True,
    help="The files are alerting configs (routes, receivers).",
)
def rules_check(files: tuple[Path, ...], is_config: bool) -> None:
    """Validate rule FILES (or alerting configs); problems are printed as FILE:LINE: message."""
    from stacklens.alerting.config_file import parse_alerting_config
    from stacklens.alerting.rules import load_rules

    failed = False
    for path in files:
        try:
            if is_config:
                parse_alerting_config(path.read_text(), source=str(path), optional_env=True)
                click.echo(f"{path}: OK")
            else:
                count = len(load_rules(path).rules())
                click.echo(f"{path}: OK, {count} rules")
        except FileError as exc:
            failed = True
            click.echo(str(exc), err=True)
    if failed:
        raise SystemExit(1)


@rules.command("export")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["prometheus", "alertmanager"]),
    default="prometheus",
    show_default=True,
    help="A Prometheus rule file, or an Alertmanager config from the routing tree.",
)
@click.option(
    "--rules-file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    envvar="STACKLENS_ALERT_RULES_FILE",
    help="Extra rule file merged over the defaults.",
)
@click.option(
    "--config-file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    envvar="STACKLENS_ALERTING_CONFIG_FILE",
    help="Alerting config (routes, receivers).",
)
@click.option("--no-defaults", is_flag=True, help="Leave out the default rules.")
@click.option(
    "--include-secrets", is_flag=True, help="Write real secrets into the Alertmanager config."
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write here instead of stdout.",
)
def rules_export(
    fmt: str,
    rules_file: Path | None,
    config_file: Path | None,
    no_defaults: bool,
    include_secrets: bool,
    output: Path | None,
) -> None:
    """Write a Prometheus rule file (rules that need the hub are listed as not exportable,
    on stderr) or an Alertmanager config from the routing tree."""
    from stacklens.alerting.config_file import load_alerting_config
    from stacklens.alerting.defaults import effective_rules
    from stacklens.alerting.prometheus_export import (
        export_alertmanager_config,
        export_prometheus_rules,
    )

    try:
        if fmt == "prometheus":
            text, skipped = export_prometheus_rules(
                effective_rules(rules_file, defaults=not no_defaults)
            )
            for key, reason in skipped:
                click.echo(f"not exportable: {key}: {reason}", err=True)
        else:
            text = export_alertmanager_config(
                load_alerting_config(config_file), include_secrets=include_secrets
            )
    except FileError as exc:
        raise click.ClickException(str(exc)) from None
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text)
        click.echo(f"wrote {output}", err=True)


@click.group()
def silence() -> None:
    """Add, list and expire alert silences."""


@silence.command("add")
@DATA_DIR
@click.argument("matchers", nargs=-1, required=True)
@click.option("--duration", default="1h", show_default=True, help="How long, e.g. 30m, 2h, 1d.")
@click.option("--comment", default="", help="Why.")
@click.option("--author", default="", envvar="USER", help="Who (default $USER).")
def silence_add(
    data_dir: Path | None, matchers: tuple[str, ...], duration: str, comment: str, author: str
) -> None:
    """Silence alerts matching all MATCHERS, each a MATCHER like alertname=HighErrorRate
    or stack_name=~"dev-.*".
    Prints the silence id."""
    from stacklens.alerting.durations import parse_duration
    from stacklens.alerting.silences import SilenceStore

    try:
        created = SilenceStore(_metadata(data_dir)).add(
            list(matchers), duration_ns=parse_duration(duration), created_by=author, comment=comment
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(created.id)


@silence.command("list")
@DATA_DIR
@click.option("--all", "show_all", is_flag=True, help="Include expired silences.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (Alertmanager's silence shape).")
def silence_list(data_dir: Path | None, show_all: bool, as_json: bool) -> None:
    """List silences (active and pending; --all adds expired ones)."""
    from stacklens.alerting.durations import rfc3339
    from stacklens.alerting.silences import SilenceStore
    from stacklens.ids import system_clock_ns

    now = system_clock_ns()
    found = SilenceStore(_metadata(data_dir)).list(include_expired=show_all)
    if as_json:
        click.echo(json.dumps([s.to_json(now) for s in found], indent=2))
        return
    click.echo(f"{'ID':<36}  {'STATUS':<8}  {'ENDS AT':<24}  {'AUTHOR':<12}  MATCHERS")
    for item in found:
        matchers = " ".join(str(m) for m in item.matchers)
        click.echo(
            f"{item.id:<36}  {item.status(now):<8}  {rfc3339(item.ends_at_ns):<24}  "
            f"{item.created_by[:12]:<12}  {matchers}"
        )


@silence.command("expire")
@DATA_DIR
@click.argument("silence_id")
def silence_expire(data_dir: Path | None, silence_id: str) -> None:
    """Expire the silence SILENCE_ID now (its id or a unique prefix of it)."""
    from stacklens.alerting.silences import SilenceStore

    if not SilenceStore(_metadata(data_dir)).expire(silence_id):
        raise click.ClickException(
            f"no unexpired silence {silence_id!r} (or the prefix is ambiguous)"
        )
    click.echo(f"expired {silence_id}")
