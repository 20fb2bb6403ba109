"""`loyalflow --help` and quick commands start without importing what they do not use."""

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from loyalflow.cli.app import app, member_app
from loyalflow.cli.lazy import LazyGroup

HEAVY = ("temporalio", "fastapi", "sqlalchemy", "jinja2", "alembic", "uvicorn", "twilio")


def test_help_imports_none_of_the_heavy_libraries() -> None:
    probe = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from loyalflow.cli.app import app\n"
        "result = CliRunner().invoke(app, ['--help'])\n"
        "assert result.exit_code == 0, result.output\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    ).stdout.strip()

    assert loaded == "[]"


@pytest.mark.parametrize(
    ("group", "name"),
    [(app, name) for name in ("event", "preview", "import", "journeys", "runs", "simulate", "demo")]
    + [(member_app, name) for name in ("put", "get", "show", "explain")],
)
def test_every_lazy_command_loads_and_has_help(group: object, name: str) -> None:
    args = [name, "--help"] if group is app else ["member", name, "--help"]

    result = CliRunner().invoke(app, args, env={"COLUMNS": "80"})

    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_the_lazy_registry_lists_what_help_shows() -> None:
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "80"})

    for name in ("up", "api", "member", "preview", "import", "journeys", "runs", "demo"):
        assert f" {name} " in result.output
    # The base class holds no commands: each group's registry is its own.
    assert LazyGroup.lazy == {}


def _loyalflow(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The installed console script, as a user runs it."""
    env = {**os.environ, "LOYALFLOW_HOME": str(home), "COLUMNS": "80"}
    env.pop("LOYALFLOW_DATABASE_URL", None)
    script = Path(sys.executable).parent / "loyalflow"
    return subprocess.run(
        [str(script), *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_a_command_before_any_migration_says_to_migrate(tmp_path: Path) -> None:
    result = _loyalflow(tmp_path, "member", "get", "m-1")

    assert result.returncode == 1
    assert "has no loyalflow tables yet" in result.stderr
    assert "loyalflow migrate" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_an_older_schema_says_to_migrate(tmp_path: Path) -> None:
    assert _loyalflow(tmp_path, "migrate").returncode == 0
    with sqlite3.connect(tmp_path / "loyalflow.db") as db:
        db.execute("ALTER TABLE member DROP COLUMN first_name")  # as if made by an older version

    older = _loyalflow(tmp_path, "member", "put", "m-1", "--first-name", "Ann")

    assert older.returncode == 1
    assert "older loyalflow schema" in older.stderr
    assert "Traceback" not in older.stderr + older.stdout
