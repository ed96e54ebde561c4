"""Where a request's path stands relative to the app's `root_path`.

ASGI servers put the full path in `scope["path"]` and the prefix the app is mounted
under in `scope["root_path"]`; older servers and some mounts strip the prefix from
`path` instead. Both functions accept either shape.
"""

from __future__ import annotations

from .types import Scope

__all__ = ["full_path", "route_path"]


def route_path(scope: Scope) -> str:
    """The part of the path the app routes on: the path less `root_path`.

    An empty remainder is the root, `/`. A path that does not start with `root_path`
    (the prefix already stripped) is returned as it is.
    """
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if root_path and path.startswith(root_path):
        rest = path[len(root_path) :]
        if not rest:
            return "/"
        if rest[0] == "/":
            return rest
    return path


def full_path(scope: Scope) -> str:
    """The path as the client asked for it: `root_path` plus the routed part (agrees
    with `route_path` on whether `path` already holds the prefix)."""
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if not root_path or path == root_path or path.startswith(root_path + "/"):
        return path
    return root_path + path
