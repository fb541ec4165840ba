"""Named training presets a person saves on the Train page: ``<home>/presets/<name>.json``.

A preset holds the settings of training.config (the fields ``runs.history.REUSABLE`` names), never a run name,
dataset or token. Saving validates them through ``config.new_config``; loading validates again, so a broken
or hand-edited file is refused with one sentence and the others still load. Stdlib only.
"""

from __future__ import annotations

import json

from voxstudio import atomicfile, workspace
from voxstudio.runs.history import REUSABLE
from voxstudio.training import config

FOLDER = "presets"


def _folder():
    return workspace.home() / FOLDER


def _valid(fields: dict) -> dict:
    """Only the reusable settings, checked as a run would check them (ValueError with the sentence)."""
    kept = {k: v for k, v in fields.items() if k in REUSABLE and v is not None}
    config.new_config(run_name="preset-check", dataset="preset-check", **kept)
    return kept


def check_name(name: str) -> str:
    name = (name or "").strip()
    if not workspace.is_slug(name):
        raise ValueError(f"Preset name {name!r} is not valid: use lower-case letters, digits, '-', '_' or '.' "
                         "(up to 64), e.g. 'lora-fast'.")
    return name


def exists(name: str) -> bool:
    return (_folder() / f"{name}.json").is_file()


def save(name: str, fields: dict, overwrite: bool = False) -> str:
    """Save ``fields`` as preset ``name`` (ValueError with one sentence: bad name, taken, invalid settings)."""
    name = check_name(name)
    if exists(name) and not overwrite:
        raise ValueError(f"A preset named '{name}' already exists: tick 'Replace it' to overwrite it.")
    kept = _valid(fields)
    _folder().mkdir(parents=True, exist_ok=True)
    atomicfile.write_atomic(_folder() / f"{name}.json", json.dumps(kept, indent=2, sort_keys=True).encode())
    return name


def load_all() -> tuple[dict[str, dict], list[str]]:
    """({name: settings} of every valid preset, [one sentence per refused file])."""
    found, problems = {}, []
    folder = _folder()
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise ValueError("it is not a JSON object")
            found[path.stem] = _valid(data)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, ValueError, TypeError) as exc:
            problems.append(f"Preset '{path.stem}' cannot be used ({exc}); the others are fine.")
    return found, problems
