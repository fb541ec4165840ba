"""The one owner of model names: the default base model, the in-code ``tiny`` model, and Hub id vs local path.

A model is named by a Hub id (``owner/name``), a local folder, or :data:`TINY` (a few-kB Voxtral built in code
for tests and CPU demos). Stdlib only. ``voxstudio.inference`` ships alone into the demo Space, so it keeps its
own copy of :func:`looks_like_path`; ``tests/test_rules.py`` checks the two agree.
"""

from __future__ import annotations

import re

DEFAULT_BASE_MODEL = "mistralai/Voxtral-Mini-3B-2507"
VOXTRAL_SMALL = "mistralai/Voxtral-Small-24B-2507"  # 24 B: LoRA on an 80 GB GPU, full only sharded
TINY = "tiny"
SMALL_MODELS = (TINY,)  # fast enough for a CPU Space
HUB_ID_RE = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")  # owner/name
# A Hub repository name as a user types it: ``name`` or ``namespace/name`` (ASCII, ≤ 96 characters each).
REPO_ID_RE = re.compile(r"^(?:[A-Za-z0-9][A-Za-z0-9._-]{0,95}/)?[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")


def is_hub_id(name) -> bool:
    """True for ``owner/name`` (a model or dataset on the Hub); a bare word or a path is not one."""
    return isinstance(name, str) and HUB_ID_RE.match(name) is not None


def is_repo_id(name) -> bool:
    """True for a valid ``name`` or ``namespace/name`` to create or push to on the Hub."""
    return (isinstance(name, str) and REPO_ID_RE.match(name) is not None and ".." not in name
            and not name.endswith((".git", ".")))


def looks_like_path(model: str) -> bool:
    """Hub ids are 'name' or 'owner/name'; anything else with slashes or a leading dot/tilde is a path."""
    return model.startswith(("/", ".", "~")) or model.count("/") > 1 or "\\" in model


def is_tiny(model) -> bool:
    return model == TINY
