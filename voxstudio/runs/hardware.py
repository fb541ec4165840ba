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
MEMINFO = "/proc/meminfo"
# Peak dense 16-bit tensor TFLOP/s by name (first match wins; the time estimate scales by it), and the GPU
# families older than Ampere, which have no bf16 (fp16 there). An unknown name: DEFAULT_TFLOPS, bf16.
TFLOPS = (("GB200", 2500), ("B200", 2250), ("H200", 989), ("GH200", 989), ("H100 PCIE", 756), ("H100", 989),
          ("H800", 989), ("A100", 312), ("A800", 312), ("L40S", 362), ("L40", 181), ("L4", 121), ("A10G", 70),
          ("A10", 125), ("A6000", 155), ("6000 ADA", 364), ("A5000", 111), ("A4000", 77), ("5090", 210),
          ("4090", 165), ("4080", 97), ("3090", 71), ("3080", 60), ("V100", 125), ("T4", 65), ("P100", 19))
NO_BF16 = ("V100", "T4", "P100", "P40", "P4", "K80", "M60", "M40", "GTX", "RTX 20", "TITAN", "QUADRO")
DEFAULT_TFLOPS = 100.0


@dataclass(frozen=True)
class Gpu:
    """One NVIDIA GPU as reported by ``nvidia-smi`` (memory in MiB)."""

    name: str
    memory_total_mib: int
    memory_used_mib: int = 0

    @property
    def memory_total_gib(self) -> float:
        return self.memory_total_mib / 1024

    @property
    def bf16(self) -> bool:
        """Whether it computes in bf16 (Ampere or newer), judged by its name."""
        return not any(old in self.name.upper() for old in NO_BF16)

    @property
    def tflops(self) -> float:
        name = self.name.upper()
        return next((float(t) for key, t in TFLOPS if key in name), DEFAULT_TFLOPS)


@dataclass(frozen=True)
class Hardware:
    """What the studio can train on; ``gpus`` is empty on a CPU-only machine."""

    gpus: tuple[Gpu, ...] = ()
    cpu_count: int = 1
    note: str = ""  # why no GPU was found, when that is useful to show
    ram_total_mib: int = 0  # from /proc/meminfo (0: unknown)
    ram_available_mib: int = 0

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
        """What Voxtral Mini fine-tune this hardware can run, from ``training.estimate`` (a hint, not a promise)."""
        from voxstudio.models import DEFAULT_BASE_MODEL
        from voxstudio.training import estimate
        from voxstudio.training.config import RunConfig
        from voxstudio.training.modelspec import MODELS

        if not self.gpus:
            return "Training on CPU works only with the tiny test model; use a GPU machine for Voxtral."
        device = estimate.device_of(self)
        spec = MODELS[DEFAULT_BASE_MODEL]
        lora = estimate.memory(RunConfig(dataset="d"), spec, bf16_ok=device.bf16)
        full = estimate.memory(RunConfig(dataset="d", method="full"), spec, bf16_ok=device.bf16)
        if full.total <= device.memory:
            return f"Enough GPU memory for LoRA or a full fine-tune of Voxtral Mini (~{full.gib:.0f} GiB)."
        if lora.total <= device.memory:
            return (f"Enough GPU memory for a LoRA fine-tune of Voxtral Mini (~{lora.gib:.0f} GiB); a full "
                    f"fine-tune needs ~{full.gib:.0f} GiB.")
        return (f"This GPU has little memory: LoRA on Voxtral Mini needs ~{lora.gib:.0f} GiB at batch 4; use "
                "batch size 1 with gradient accumulation.")


def read_meminfo(path: str = MEMINFO) -> tuple[int, int]:
    """(MemTotal, MemAvailable) in MiB from /proc/meminfo; (0, 0) where it cannot be read."""
    values = {}
    try:
        with open(path, encoding="ascii") as f:
            for line in f:
                key, _, rest = line.partition(":")
                values[key] = int(rest.split()[0]) // 1024 if rest.split() else 0
    except (OSError, ValueError):
        return 0, 0
    total = values.get("MemTotal", 0)
    return total, values.get("MemAvailable", total)


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
    total, available = read_meminfo()
    found = probe_gpus(timeout_s)
    return Hardware(gpus=found[0], cpu_count=cpus, note=found[1], ram_total_mib=total, ram_available_mib=available)


def probe_gpus(timeout_s: float = TIMEOUT_S) -> tuple[tuple[Gpu, ...], str]:
    """(GPUs, note) from ``nvidia-smi``; no GPU and a note saying why when it is missing or fails."""
    exe = shutil.which(NVIDIA_SMI)
    if exe is None:
        return (), "nvidia-smi not found"
    try:
        proc = subprocess.run(
            [exe, *QUERY], capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return (), f"nvidia-smi failed: {exc}"
    if proc.returncode != 0:
        first = (proc.stderr or proc.stdout).strip().splitlines()[:1]
        return (), f"nvidia-smi failed: {first[0] if first else proc.returncode}"
    gpus = parse_nvidia_smi(proc.stdout)
    return gpus, "" if gpus else "nvidia-smi listed no GPU"


@lru_cache(maxsize=1)
def detect() -> Hardware:
    """Cached :func:`probe` for page renders (the hardware does not change while the studio runs)."""
    return probe()
