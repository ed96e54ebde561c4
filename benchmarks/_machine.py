"""What a benchmark ran on, recorded with its results: the CPU, the system, Python, and the
versions of the packages that took part."""

from __future__ import annotations

import contextlib
import os
import platform
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["machine", "versions"]


def versions(packages: Iterable[str]) -> dict[str, str]:
    """The installed version of each package; those not installed are left out."""
    found = {}
    for name in packages:
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[name] = metadata.version(name)
    return found


def machine(packages: Iterable[str] = ()) -> dict[str, Any]:
    """The CPU model, its count, the system, Python, and the versions of `packages`."""
    model = platform.processor() or "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    return {
        "cpu": model,
        "cpus": os.cpu_count(),
        "system": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "versions": versions(packages),
    }
