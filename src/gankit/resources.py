"""How much memory a device has free: size checks run before anything large is allocated (imports nothing of
gankit)."""

from __future__ import annotations

from pathlib import Path

import torch


def available_memory(device: str | torch.device) -> int | None:
    """Bytes this process may still allocate on ``device``: on CUDA the device's free memory; on the CPU the host's
    available memory (``MemAvailable``, bounded by the control group's limit). None where it cannot be known."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    if device.type != "cpu":
        return None
    host = _meminfo_available()
    group = _cgroup_room()
    known = [b for b in (host, group) if b is not None]
    return min(known) if known else None


def _meminfo_available() -> int | None:
    """Linux's estimate of the memory available to start new work, in bytes (None off Linux)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _cgroup_room() -> int | None:
    """What the control group (v2) still allows, in bytes; None without a limit."""
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = int(Path("/sys/fs/cgroup/memory.current").read_text())
    except (OSError, ValueError):
        return None
    return None if limit == "max" else max(int(limit) - used, 0)


def gib(nbytes: float) -> str:
    """``12.3 GiB``: a byte count for a message."""
    return f"{nbytes / 2**30:,.1f} GiB"
