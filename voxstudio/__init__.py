"""voxstudio: turn your own voice into a better speech recognizer.

The UI side of this package (everything except the training modules listed in
``voxstudio.TRAINING_MODULES``) must import without torch/transformers/peft/trackio.
"""

__version__ = "0.1.0"

# Modules allowed to import torch / transformers / peft / trackio. Everything else is UI-safe.
TRAINING_MODULES = ("tiny", "collator", "features", "train", "evaluate", "inference", "export")
