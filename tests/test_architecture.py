"""The layout stays what docs/ARCHITECTURE.md says: every module documented in its room, no import cycles,
no oversized modules, no utils.py."""

from __future__ import annotations

import ast
import re

from conftest import ROOT

PACKAGE = ROOT / "voxstudio"
DOC = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
MAX_LINES = 400


def modules() -> dict[str, object]:
    """Dotted module name -> path, for every module of the package (``__init__``/``__main__`` excluded)."""
    out = {}
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(ROOT).with_suffix("")
        if rel.name in ("__init__", "__main__"):
            continue
        out[".".join(rel.parts)] = path
    return out


def section(room: str | None) -> str:
    """The doc's section of one room (``data/`` …) or of the shared owners at the top."""
    title = "## Shared owners" if room is None else f"## `{room}/`"
    start = DOC.index(title)
    nxt = DOC.find("\n## ", start + 1)
    return DOC[start: nxt if nxt != -1 else None]


def test_every_module_is_documented_in_its_room():
    missing = []
    for name in modules():
        parts = name.split(".")
        room = parts[1] if len(parts) >= 3 else None  # voxstudio.<room>.<module> or deeper
        if f"`{parts[-1]}`" not in section(room) and f"{parts[-1]}.py" not in section(room):
            missing.append(name)
    assert not missing, f"modules missing from docs/ARCHITECTURE.md: {missing}"


def test_documented_modules_exist():
    known = {name.split(".")[-1] for name in modules()}
    for room in ("data", "training", "runs", "publish", "studio"):
        listed = re.findall(r"^\| `(\w+)`(?:, `(\w+)`)? \|", section(room), flags=re.M)
        names = {n for pair in listed for n in pair if n}
        assert names and names <= known, (room, names - known)


def _top_level_imports(path) -> set[str]:
    """voxstudio modules imported at module level (not inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("voxstudio"):
            for alias in node.names:
                found.add(f"{node.module}.{alias.name}")
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("voxstudio"))
    return found


def test_no_import_cycles_between_modules():
    mods = modules()
    graph = {name: {m for m in _top_level_imports(path) if m in mods and m != name} for name, path in mods.items()}
    state: dict[str, int] = {}

    def visit(node, trail):
        if state.get(node) == 1:
            raise AssertionError("import cycle: " + " -> ".join(trail[trail.index(node):] + [node]))
        if state.get(node) == 2:
            return
        state[node] = 1
        for nxt in graph[node]:
            visit(nxt, trail + [node])
        state[node] = 2

    for name in graph:
        visit(name, [])


def test_modules_stay_small_and_there_is_no_utils():
    big = {name: n for name, path in modules().items() if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert not big, f"modules over {MAX_LINES} lines: {big}"
    assert not [name for name in modules() if name.endswith(("utils", "helpers", "misc"))]
