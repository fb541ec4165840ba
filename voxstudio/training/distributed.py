"""Several trainer processes (``--gpus N``): the collectives our own code runs, and what FSDP needs from it.

Every tensor in a collective lives on the device the process group's backend serves: NCCL (what accelerate
sets up on GPUs) moves CUDA tensors only — a CPU tensor fails at the first collective — and gloo (CPU runs)
CPU tensors. Object collectives (``all_gather_object``) put their bytes on ``torch.cuda.current_device()``
under NCCL, so each rank must have selected its own GPU (accelerate does; the trainer also does it itself).

With FSDP (``sharding="fsdp"``) every forward pass is a collective over the shards: evaluation runs in
lockstep (the same number of generations on every rank, ``generate(synced_gpus=True)`` so a rank that meets
EOS first keeps joining its peers' forwards, a stop request agreed by all ranks between clips), and saving
gathers the full state dict on every rank before rank 0 writes it.
"""

from __future__ import annotations

import math
import os

import torch

from voxstudio.training.evaluate import Interrupted, transcribe_clips


def world_size() -> int:
    return torch.distributed.get_world_size() if torch.distributed.is_initialized() else 1


def collective_device() -> torch.device:
    """This rank's GPU (``LOCAL_RANK``) when the default process group's backend is NCCL, else the CPU."""
    if torch.distributed.is_initialized() and "nccl" in str(torch.distributed.get_backend()):
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return torch.device("cpu")


def agree(*flags: bool) -> tuple[bool, ...]:
    """Each flag OR-ed over all ranks (one all-reduce on the backend's device); unchanged in one process."""
    if world_size() == 1:
        return tuple(bool(f) for f in flags)
    t = torch.tensor([int(bool(f)) for f in flags], dtype=torch.int32, device=collective_device())
    torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
    return tuple(bool(v) for v in t.tolist())


class SyncedGenerate:
    """``model`` whose ``generate`` runs with ``synced_gpus=True`` (the other attributes are the model's).

    transformers turns synced generation on by itself only for models it sharded; accelerate's FSDP2 does
    not mark them, so a rank whose clip ends first would leave its peers waiting in a forward pass."""

    def __init__(self, model):
        self._model = model

    def generate(self, *args, **kwargs):
        return self._model.generate(*args, synced_gpus=True, **kwargs)

    def __getattr__(self, name):
        return getattr(self._model, name)


def gather_weights_once(model) -> None:
    """Gather and free each FSDP unit's weights once, outside inference mode (one unit at a time).

    FSDP2 allocates a unit's gathered-weights buffer at its first gather and reuses it: allocated inside
    ``torch.inference_mode`` (the Transcriber's), it would be an inference tensor that training may not write,
    which is what a baseline measured before the first training step would do."""
    from torch.distributed.fsdp import FSDPModule

    with torch.inference_mode(False), torch.no_grad():
        for module in model.modules():
            if isinstance(module, FSDPModule):
                module.unshard()
                module.reshard()


def transcribe_in_lockstep(transcriber, refs: list, rank: int, world: int, max_new_tokens: int,
                           should_stop) -> list[dict]:
    """This rank's share (``refs[rank::world]``) of the clips, transcribed by a sharded model.

    Every rank generates ``ceil(len(refs) / world)`` times: a rank with a shorter share repeats the first clip
    and drops that row. Before each clip all ranks agree on ``should_stop()``; when any rank was asked to stop,
    all raise ``Interrupted`` at the same clip."""
    gather_weights_once(transcriber.model)
    share = refs[rank::world]
    transcriber.model = SyncedGenerate(transcriber.model)
    rows: list[dict] = []
    for i in range(math.ceil(len(refs) / world)):
        (stop,) = agree(should_stop())
        if stop:
            raise Interrupted()
        got = transcribe_clips(transcriber, [share[i] if i < len(share) else refs[0]], max_new_tokens)
        if i < len(share):
            rows += got
    return rows
