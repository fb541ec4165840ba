"""What this machine can train on: GPU name and memory via ``nvidia-smi``, or "CPU only".

Why ``nvidia-smi`` and not ``torch.cuda``: the UI side must not import torch (it costs seconds and
gigabytes on every page load). ``nvidia-smi`` ships with the NVIDIA driver, so when it is missing or
fails there is no usable NVIDIA GPU for us either, and we fall back to the CPU description.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache

NVIDIA_SMI = "nvidia-smi"
QUERY = ("--query-gpu=name,memory.total,memory.used", "--format=csv,noheader,nounits")
TIMEOUT_S = 5.0
# Rough VRAM needed to fine-tune Voxtral Mini 3B (bf16): LoRA fits in ~16 GiB, a full fine-tune wants ~40 GiB.
LORA_MIN_MIB = 16 * 1024
FULL_MIN_MIB = 40 * 1024


@dataclass(frozen=True)
class Gpu:
    """One NVIDIA GPU as reported by ``nvidia-smi`` (memory in MiB)."""

    name: str
    memory_total_mib: int
    memory_used_mib: int = 0

    @property
    def memory_total_gib(self) -> float:
        return self.memory_total_mib / 1024


@dataclass(frozen=True)
class Hardware:
    """What the studio can train on; ``gpus`` is empty on a CPU-only machine."""

    gpus: tuple[Gpu, ...] = ()
    cpu_count: int = 1
    note: str = ""  # why no GPU was found, when that is useful to show

    @property
    def has_gpu(self) -> bool:
        return bool(self.gpus)

    @property
    def total_vram_mib(self) -> int:
        return sum(g.memory_total_mib for g in self.gpus)

    def summary(self) -> str:
        """One line for the Home page, e.g. ``NVIDIA H100 80GB HBM3 · 79.6 GiB`` or ``CPU only (2 cores)``."""
        if not self.gpus:
            return f"CPU only ({self.cpu_count} cores)"
        parts = [f"{g.name} · {g.memory_total_gib:.1f} GiB" for g in self.gpus]
        return ", ".join(parts)

    def advice(self) -> str:
        """What kind of fine-tune this hardware can run (a hint, not a promise)."""
        if not self.gpus:
            return "Training on CPU works only with the tiny test model; use a GPU machine for Voxtral."
        best = max(g.memory_total_mib for g in self.gpus)
        if best >= FULL_MIN_MIB:
            return "Enough GPU memory for LoRA or a full fine-tune."
        if best >= LORA_MIN_MIB:
            return "Enough GPU memory for a LoRA fine-tune."
        return "This GPU has little memory: use LoRA with a small batch and gradient accumulation."


def parse_nvidia_smi(output: str) -> tuple[Gpu, ...]:
    """Parse ``nvidia-smi --query-gpu=name,memory.total,memory.used --format=csv,noheader,nounits``."""
    gpus = []
    for line in output.splitlines():
        cells = [c.strip() for c in line.split(",")]
        if len(cells) < 2 or not cells[0]:
            continue
        try:
            total = int(float(cells[1]))
            used = int(float(cells[2])) if len(cells) > 2 and cells[2] else 0
        except ValueError:
            continue  # "[N/A]" on some virtualised GPUs: not something we can plan memory with
        gpus.append(Gpu(name=cells[0], memory_total_mib=total, memory_used_mib=used))
    return tuple(gpus)


def probe(timeout_s: float = TIMEOUT_S) -> Hardware:
    """Ask ``nvidia-smi`` now (no cache). Never raises: failures become a CPU-only answer with a note."""
    cpus = os.cpu_count() or 1
    exe = shutil.which(NVIDIA_SMI)
    if exe is None:
        return Hardware(cpu_count=cpus, note="nvidia-smi not found")
    try:
        proc = subprocess.run(
            [exe, *QUERY], capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Hardware(cpu_count=cpus, note=f"nvidia-smi failed: {exc}")
    if proc.returncode != 0:
        first = (proc.stderr or proc.stdout).strip().splitlines()[:1]
        return Hardware(cpu_count=cpus, note=f"nvidia-smi failed: {first[0] if first else proc.returncode}")
    gpus = parse_nvidia_smi(proc.stdout)
    return Hardware(gpus=gpus, cpu_count=cpus, note="" if gpus else "nvidia-smi listed no GPU")


@lru_cache(maxsize=1)
def detect() -> Hardware:
    """Cached :func:`probe` for page renders (the hardware does not change while the studio runs)."""
    return probe()
