"""`loyalflow --help` and quick commands start without importing what they do not use."""

import subprocess
import sys

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
    [(app, name) for name in ("preview", "import", "journeys", "runs", "simulate", "demo")]
    + [(member_app, name) for name in ("show", "explain")],
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
