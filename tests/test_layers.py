"""The house's layers, as the README's "How it works" draws them: every import points down, never up.

config/ and devices/ sit below everything; analytics/ imports neither storage nor anything above it; store/ may use
analytics (the visit refresh) but never the receiver, the app or the simulator; the dashboard never imports the
receiver; the simulator takes only the receiver's payload models.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OURS = ("config", "devices", "analytics", "store", "receiver", "simulator", "app", "benchmarks", "tests")
# What each package may import of ours (itself always).
ALLOWED = {
    "devices": set(),
    "config": {"devices"},
    "analytics": set(),
    "store": {"analytics", "config", "devices"},
    "receiver": {"store", "analytics", "config", "devices"},
    "simulator": {"receiver.vendors", "store", "analytics", "config", "devices"},
    # The CLI's window_analysis (the same figures as presence report) and the weekly report the Trends page offers.
    "app.dashboard": {"app.commands.export", "app.weekly_report", "store", "analytics", "config", "devices"},
    "app": {"receiver", "store", "analytics", "config", "devices", "simulator"},
}


def layer_of(module: str) -> str:
    return "app.dashboard" if module.startswith("app.dashboard") else module.split(".")[0]


def imports_of(path: Path) -> list[tuple[int, str]]:
    """Every import of one of our packages in a file, at any depth (function-level imports too)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return [(line, name) for line, name in found if name.split(".")[0] in OURS]


def permitted(layer: str, imported: str) -> bool:
    if imported == layer or imported.startswith(layer + "."):
        return True
    return any(imported == allowed or imported.startswith(allowed + ".") for allowed in ALLOWED[layer])


def modules() -> list[Path]:
    return sorted({path for package in ALLOWED for path in (ROOT / package.replace(".", "/")).rglob("*.py")})


@pytest.mark.parametrize("path", modules(), ids=lambda path: str(path.relative_to(ROOT)))
def test_every_import_points_down(path: Path) -> None:
    module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    layer = layer_of(module)
    upward = [f"line {line}: {name}" for line, name in imports_of(path) if not permitted(layer, name)]
    assert upward == [], f"{module} ({layer}) imports above its layer"


def test_the_dashboards_data_layer_loads_no_receiver_module() -> None:
    """Transitively too: importing the dashboard's data layer brings no receiver module into the process."""
    code = (
        "import sys, app.dashboard.data, app.dashboard.cache, app.dashboard.products, app.dashboard.charts, "
        "app.dashboard.tables, app.dashboard.filters, app.dashboard.auth; "
        "print(sorted(name for name in sys.modules if name.split('.')[0] == 'receiver'))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"


def test_the_layer_rules_catch_an_upward_import(tmp_path: Path) -> None:
    """The check itself can fail: a store module importing the receiver is caught."""
    bad = tmp_path / "bad.py"
    bad.write_text("from receiver.app import create_app\n\ndef f():\n    import app.cli\n")
    assert [permitted("store", name) for _, name in imports_of(bad)] == [False, False]
