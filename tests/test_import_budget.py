"""The studio's UI side must load without torch & co: a page render cannot wait seconds for them.

Checked in a fresh interpreter: every ``voxstudio`` module outside the training room (``HEAVY_ROOMS``) and the
export/inference modules (``HEAVY_MODULES``), found on disk so a new module is covered the day it lands, and the
import lines of ``Home.py`` and every page.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys

from conftest import ROOT

import voxstudio

HEAVY = ("torch", "transformers", "peft", "trackio", "datasets")
PACKAGE = ROOT / "voxstudio"


def ui_modules() -> list[str]:
    """``voxstudio`` plus every module and ``cli`` submodule that is not training-side."""
    names = ["voxstudio"]
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        name = ".".join(parts)
        if parts[-1] == "__main__" or name in voxstudio.HEAVY_MODULES:
            continue
        if any(name.startswith(room + ".") for room in voxstudio.HEAVY_ROOMS):
            continue
        if "space_template" in parts or "templates" in parts:  # files shipped elsewhere, not package modules
            continue
        names.append(name)
    return sorted(set(names))


def page_import_lines() -> list[tuple[str, str]]:
    """(page, source of one top-level import statement) for Home.py and pages/*.py."""
    lines = []
    for page in [ROOT / "Home.py", *sorted((ROOT / "pages").glob("*.py"))]:
        tree = ast.parse(page.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.Import | ast.ImportFrom):
                lines.append((page.name, ast.unparse(node)))
    return lines


PROBE = r"""
import importlib, json, sys
heavy, modules, lines = json.loads(sys.argv[1])
report = []
def loaded():
    return sorted(h for h in heavy if h in sys.modules)
for name in modules:
    importlib.import_module(name)
    report.append([name, loaded()])
for page, line in lines:
    exec(line, {})
    report.append([f"{page}: {line}", loaded()])
print(json.dumps(report))
"""


def test_ui_side_imports_no_torch_transformers_peft_trackio():
    modules, lines = ui_modules(), page_import_lines()
    studio = {"voxstudio.studio.wizard", "voxstudio.studio.session", "voxstudio.studio.review",
              "voxstudio.studio.recording", "voxstudio.studio.formatting"}
    assert studio | {"voxstudio.runs.hardware", "voxstudio.data.dataset", "voxstudio.workspace"} <= set(modules)
    assert any(page == "2_Record.py" for page, _ in lines)
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps([HEAVY, modules, lines])],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    first_offender = next(((what, heavy) for what, heavy in report if heavy), None)
    assert first_offender is None, f"importing {first_offender[0]} loaded {first_offender[1]}"
    assert len(report) == len(modules) + len(lines)
