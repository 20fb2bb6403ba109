"""Subcommands imported only when they run, so `loyalflow --help` and quick commands start fast.

The command modules pull in Temporal's SDK, SQLAlchemy, Jinja2 and FastAPI (seconds on a busy
laptop); a command needs only its own. Help pages list lazy commands from the help text kept
here, without importing them.
"""

import importlib
from typing import Any, ClassVar, NamedTuple

import typer
from typer.core import TyperCommand, TyperGroup


class Lazy(NamedTuple):
    module: str  # e.g. "loyalflow.cli.support"
    attribute: str  # a Typer app (a command group) or a command function
    help: str  # shown in the parent's help; the command's own help is its docstring


class LazyGroup(TyperGroup):
    """A Typer group whose `lazy` commands are imported on first use."""

    lazy: ClassVar[dict[str, Lazy]] = {}
    _listing = False

    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *(n for n in self.lazy if n not in self.commands)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        entry = self.lazy.get(cmd_name)
        if entry is None or cmd_name in self.commands:
            return super().get_command(ctx, cmd_name)
        if self._listing:
            return TyperCommand(cmd_name, help=entry.help, short_help=entry.help)
        target = getattr(importlib.import_module(entry.module), entry.attribute)
        command: Any
        if isinstance(target, typer.Typer):
            command = typer.main.get_group(target)
        else:
            single = typer.Typer()
            single.command(cmd_name)(target)
            command = typer.main.get_command(single)
        command.name = cmd_name
        self.commands[cmd_name] = command
        return command

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


def lazy_group(commands: dict[str, Lazy]) -> type[LazyGroup]:
    return type("LoyalflowLazyGroup", (LazyGroup,), {"lazy": commands})
