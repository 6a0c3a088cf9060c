"""The command line explains itself: every option and argument has help text, the
top-level help starts a newcomer off, and commands load lazily (so ``send`` and
``--help`` work on the base install; see also scripts/check-install-path.sh)."""

from __future__ import annotations

import click
from click.testing import CliRunner

from stacklens.cli import main


def _walk(group: click.Group, ctx: click.Context, path: str) -> list[tuple[str, click.Command]]:
    found: list[tuple[str, click.Command]] = []
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, name
        found.append((f"{path} {name}", command))
        if isinstance(command, click.Group):
            found.extend(_walk(command, click.Context(command, parent=ctx), f"{path} {name}"))
    return found


def test_every_option_and_command_has_help() -> None:
    ctx = click.Context(main)
    missing = []
    for path, command in _walk(main, ctx, "stacklens"):
        if not (command.help or command.short_help):
            missing.append(f"{path}: no help")
        for param in command.params:
            if isinstance(param, click.Option) and not param.help:
                missing.append(f"{path} {param.opts[0]}: no help")
            explained = command.help and param.name and param.name.upper() in command.help
            if isinstance(param, click.Argument) and not explained:
                missing.append(f"{path} {param.name}: not explained in the help")
    assert missing == []


def test_top_level_help_has_a_getting_started_example() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    assert "Getting started:" in result.output
    assert "stacklens serve" in result.output and "stacklens demo" in result.output
    for name in ("budgets", "quarantine", "backup", "send", "keys"):
        assert name in result.output
