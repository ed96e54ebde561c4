"""Server-Timing metrics (W3C Server Timing): what `request.timing()` records.

`ServerTimingMiddleware` puts a list in the scope; each metric a handler adds is
checked here and appended to it as a `Metric`, and the middleware turns the list into
the `Server-Timing` response header with `header_value`.
"""

from __future__ import annotations

import math
import re
import time
from types import TracebackType
from typing import NamedTuple

__all__ = ["Metric", "ServerTimer", "header_value", "validate_metric"]

# The metric name is an RFC 9110 token; a description is sent as a quoted-string, so
# it may hold any visible ASCII character and spaces, but no control character.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_DESCRIPTION = re.compile(r"[\x20-\x7e]*")
MAX_NAME = 64
MAX_DESCRIPTION = 256


class Metric(NamedTuple):
    """One metric: a name, a duration in milliseconds (or None) and a description."""

    name: str
    duration: float | None
    description: str | None


def validate_metric(name: str, duration: float | None, description: str | None) -> Metric:
    """The metric, or `ValueError` saying what is wrong with it."""
    if not isinstance(name, str) or len(name) > MAX_NAME or not _TOKEN.fullmatch(name):
        raise ValueError(
            f"Server-Timing metric name {name!r} must be 1 to {MAX_NAME} token characters "
            "(letters, digits and !#$%&'*+-.^_`|~)"
        )
    if duration is not None:
        if (
            isinstance(duration, bool)
            or not isinstance(duration, (int, float))
            or not math.isfinite(duration)
            or duration < 0
        ):
            raise ValueError(
                f"Server-Timing duration {duration!r} must be a finite number of "
                "milliseconds, 0 or more"
            )
        duration = float(duration)
    if description is not None and (
        not isinstance(description, str)
        or len(description) > MAX_DESCRIPTION
        or not _DESCRIPTION.fullmatch(description)
    ):
        raise ValueError(
            f"Server-Timing description {description!r} must be at most {MAX_DESCRIPTION} "
            "printable ASCII characters"
        )
    return Metric(name, duration, description)


def header_value(metrics: list[Metric]) -> str:
    """The `Server-Timing` header value for these metrics, in order."""
    parts = []
    for name, duration, description in metrics:
        part = name
        if duration is not None:
            part += f";dur={duration:.3f}".rstrip("0").rstrip(".")
        if description is not None:
            quoted = description.replace("\\", "\\\\").replace('"', '\\"')
            part += f';desc="{quoted}"'
        parts.append(part)
    return ", ".join(parts)


class ServerTimer:
    """What `request.timing()` returns: a metric added now, or a block to time.

    With a duration the metric is recorded at once. Without one, use it as a context
    manager (`with request.timing("db"):`): the block's wall time is recorded when it
    ends, even when it raises. `metrics` is None when no `ServerTimingMiddleware` is
    there to send them: the metric is checked, then dropped.
    """

    __slots__ = ("_description", "_metrics", "_name", "_started", "_to_time")

    def __init__(
        self,
        metrics: list[Metric] | None,
        name: str,
        duration: float | None = None,
        description: str | None = None,
    ) -> None:
        metric = validate_metric(name, duration, description)
        self._metrics = metrics
        self._name = metric.name
        self._description = metric.description
        self._to_time = duration is None
        self._started = 0.0
        if duration is not None and metrics is not None:
            metrics.append(metric)

    def __enter__(self) -> ServerTimer:
        if not self._to_time:
            raise RuntimeError(
                "request.timing(name, duration) records the metric at once; "
                "use `with request.timing(name):` without a duration to time a block"
            )
        self._started = time.perf_counter()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        elapsed = (time.perf_counter() - self._started) * 1000.0
        if self._metrics is not None:
            self._metrics.append(Metric(self._name, elapsed, self._description))
