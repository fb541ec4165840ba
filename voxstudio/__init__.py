"""voxstudio: turn your own voice into a better speech recognizer.

The package is grouped into rooms (see docs/ARCHITECTURE.md): ``data``, ``training``, ``runs``, ``publish``,
``studio``, ``cli``, plus small shared owners at the top (``workspace``, ``atomicfile``, ``languages``,
``text``, ``models``, ``inference``). Only the training room, ``publish.export`` and ``inference`` (which ships alone
into the demo Space) may import torch/transformers/peft/trackio/datasets at module top level.
"""

__version__ = "0.1.0"

# Where torch / transformers / peft / trackio / datasets may be imported at module top level.
HEAVY_ROOMS = ("voxstudio.training",)
HEAVY_MODULES = ("voxstudio.publish.export", "voxstudio.inference")
