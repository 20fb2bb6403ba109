"""`loyalflow users add | list | disable`: the console's accounts (each change is audited).

`users list` only reads: it goes through cli/readers (the database driver alone, no ORM)."""

import json
import sys
from typing import Annotated

import typer
from rich.console import Console

users_app = typer.Typer(help="Console users: add, list, disable.", no_args_is_help=True)
console = Console()
err = Console(stderr=True)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        # One line: scripts pipe it (`printf '%s\n' "$PW" | loyalflow users add ...`).
        return sys.stdin.readline().rstrip("\r\n")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@users_app.command("add")
def add(
    name: str,
    role: Annotated[str, typer.Option("--role", help="admin, marketer or support")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from standard input")
    ] = False,
) -> None:
    """Add a console user; the password is asked twice (or read from stdin) and stored as an
    Argon2id hash."""
    from loyalflow.config import get_settings
    from loyalflow.console.accounts import AccountError, add_user, check_name
    from loyalflow.console.passwords import WeakPassword

    try:
        check_name(name)
        password = _read_password(password_stdin)
        user = add_user(get_settings().effective_database_url, name, role, password)
    except (AccountError, WeakPassword) as problem:
        err.print(f"[red]{problem}[/red]", markup=True, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    console.print(f"added {user.name} ({user.role})", markup=False, highlight=False)


@users_app.command("list")
def list_(
    as_json: Annotated[bool, typer.Option("--json", help="the users as JSON")] = False,
) -> None:
    """Console users, their role, language and whether they are disabled."""
    from loyalflow.cli.readers.support import read_users
    from loyalflow.config import get_settings

    users = read_users(get_settings().effective_database_url)
    if as_json:
        rows = [
            {"name": u.name, "role": u.role, "locale": u.locale, "disabled": u.disabled}
            for u in users
        ]
        print(json.dumps(rows))
        return
    from rich.table import Table

    table = Table("name", "role", "language", "state")
    for u in users:
        table.add_row(u.name, u.role, u.locale or "browser", "disabled" if u.disabled else "active")
    console.print(table)


@users_app.command("disable")
def disable(name: str) -> None:
    """Refuse the user's sign-ins from now on and end their sessions."""
    from loyalflow.config import get_settings
    from loyalflow.console.accounts import AccountError, disable_user

    try:
        disable_user(get_settings().effective_database_url, name)
    except AccountError as problem:
        err.print(str(problem), style="red", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    console.print(f"disabled {name}", markup=False, highlight=False)
