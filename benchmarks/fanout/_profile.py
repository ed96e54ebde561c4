"""cProfile for a benchmark server, switched on by `FANOUT_PROFILE=path` (py-spy is not
installed here): the worker's stats go to `path.<pid>` when its lifespan ends."""

from __future__ import annotations

import contextlib
import cProfile
import os
from collections.abc import Iterator


@contextlib.contextmanager
def profiled() -> Iterator[None]:
    path = os.environ.get("FANOUT_PROFILE")
    if not path:
        yield
        return
    profile = cProfile.Profile()
    profile.enable()
    try:
        yield
    finally:
        profile.disable()
        profile.dump_stats(f"{path}.{os.getpid()}")
