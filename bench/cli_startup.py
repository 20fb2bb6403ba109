"""Wall time of `loyalflow --help` and of the commands that only read (issue 12: under 0.5 s).

Runs the installed console script as a user does, `--runs` times per command, and prints the
median with the load average read just before each command's runs. The database is the one
`LOYALFLOW_HOME` / `LOYALFLOW_DATABASE_URL` name (migrate it and add a member `m-1` first):

    python bench/cli_startup.py --runs 5
    LOYALFLOW_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/cli_bench \
        python bench/cli_startup.py --runs 5
"""

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

COMMANDS: tuple[tuple[str, ...], ...] = (
    ("--help",),
    ("member", "get", "m-1"),
    ("runs", "ambiguous"),
    ("runs", "ambiguous", "--json"),
    ("users", "list"),
    ("users", "list", "--json"),
    ("engagement",),
    ("journeys", "list"),
    ("member", "show", "m-1", "--json"),
    ("report", "kpis"),
)


def _median_seconds(script: Path, args: tuple[str, ...], runs: int) -> tuple[float, float]:
    """Median wall time and median CPU time (user + system) of the command's process: on a
    loaded machine the wall time mostly measures the queue for a core, the CPU time does not."""
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run([str(script), *args], capture_output=True, check=True, timeout=120)
        walls.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", nargs="*", help="commands whose words start with these")
    parser.add_argument(
        "--script",
        type=Path,
        help="the loyalflow script (default: this venv's; another "
        "checkout's venv measures that code)",
    )
    options = parser.parse_args()
    script = options.script or Path(sys.executable).parent / "loyalflow"
    backend = (
        "postgresql" if "postgres" in os.environ.get("LOYALFLOW_DATABASE_URL", "") else "sqlite"
    )
    print(f"| command ({backend}, median of {options.runs}) | wall (s) | CPU (s) | load average |")
    print("|---|---|---|---|")
    for args in COMMANDS:
        command = " ".join(args)
        if options.only and not any(command.startswith(o) for o in options.only):
            continue
        load = os.getloadavg()[0]
        wall, cpu = _median_seconds(script, args, options.runs)
        print(f"| `loyalflow {command}` | {wall:.2f} | {cpu:.2f} | {load:.1f} |", flush=True)


if __name__ == "__main__":
    main()
