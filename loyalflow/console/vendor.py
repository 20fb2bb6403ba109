"""Copies the console's browser libraries from node_modules into static/vendor, with their
licences: `npm ci && python -m loyalflow.console.vendor`. The copies are committed, so
`pip install` ships them and nothing is loaded from a CDN; tests/console checks they match
the versions in package-lock.json."""

import shutil
import sys
from pathlib import Path

from loyalflow.console.rendering import STATIC_DIR

# (file in node_modules, name under static/vendor)
ASSETS = (
    ("htmx.org/dist/htmx.min.js", "htmx.min.js"),
    ("htmx.org/LICENSE", "htmx.LICENSE.txt"),
    # The dashboard's charts; the bundle includes @kurkle/color (MIT too).
    ("chart.js/dist/chart.umd.min.js", "chart.umd.min.js"),
    ("chart.js/LICENSE.md", "chart.js.LICENSE.md"),
    ("@kurkle/color/LICENSE.md", "kurkle-color.LICENSE.md"),
)


def vendor(node_modules: Path, target: Path = STATIC_DIR / "vendor") -> list[Path]:
    target.mkdir(parents=True, exist_ok=True)
    copied = []
    for source, name in ASSETS:
        copied.append(Path(shutil.copyfile(node_modules / source, target / name)))
    return copied


if __name__ == "__main__":
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("node_modules")
    for path in vendor(root):
        print(path)
