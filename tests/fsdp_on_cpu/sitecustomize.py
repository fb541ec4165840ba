"""Test-only: let accelerate shard with FSDP2 in CPU processes (gloo), so the trainer's FSDP path runs in CI.

accelerate (1.15) turns FSDP on only for GPU-like device types: for CPU processes ``AcceleratorState`` keeps
``MULTI_CPU`` and drops the FSDP plugin, and the Trainer silently trains data parallel. torch's FSDP2 itself
(``fully_shard``, the full-state-dict gather, synced generation) works on CPU with gloo. The tests put this
folder first on PYTHONPATH, so every trainer process imports this file at start-up (``sitecustomize``) and
accepts the plugin. Never on the path of a real run.
"""

import accelerate.state as _state

_init = _state.AcceleratorState.__init__


def _init_with_fsdp_on_cpu(self, *args, fsdp_plugin=None, **kwargs):
    _init(self, *args, fsdp_plugin=fsdp_plugin, **kwargs)
    if fsdp_plugin is not None and self.distributed_type == _state.DistributedType.MULTI_CPU:
        self.distributed_type = _state.DistributedType.FSDP
        self.fsdp_plugin = fsdp_plugin
        _state.PartialState._shared_state["distributed_type"] = _state.DistributedType.FSDP  # later states read it


_state.AcceleratorState.__init__ = _init_with_fsdp_on_cpu
