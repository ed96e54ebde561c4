"""A stand-in for a database, for examples/typed_tasks.py: rows kept in memory, and
connections that stage their writes until they commit.

It behaves like a database client in the ways the example shows (each request gets a
connection, writes become visible to others only on commit, a rollback forgets them,
connections go back when the request is done) and in no others: nothing is kept on
disk, nothing is shared between processes, and two transactions that change the same
row do not conflict (the last commit wins, where a real database would lock the row or
refuse one of them).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

Row = dict[str, Any]

__all__ = ["Connection", "Database", "Row"]

_DELETED: Any = object()  # a staged delete, among staged writes


class Database:
    """The rows of one table, by id, in the order they were first inserted."""

    def __init__(self) -> None:
        self._rows: dict[uuid.UUID, Row] = {}
        # A commit applies all its writes at once: readers on other threads (sync
        # handlers run in a worker thread) see them all or none.
        self._lock = threading.Lock()
        self.open_connections = 0

    def connect(self) -> Connection:
        """A new connection (a real app takes one from a pool opened at startup)."""
        with self._lock:
            self.open_connections += 1
        return Connection(self)

    def committed(self) -> dict[uuid.UUID, Row]:
        """A copy of the committed rows: what every new connection sees."""
        with self._lock:
            return {key: dict(row) for key, row in self._rows.items()}

    def _apply(self, writes: dict[uuid.UUID, Row]) -> None:
        with self._lock:
            for key, row in writes.items():
                if row is _DELETED:
                    self._rows.pop(key, None)
                else:
                    self._rows[key] = row

    def _release(self) -> None:
        with self._lock:
            self.open_connections -= 1


class Connection:
    """One client's view: the committed rows, plus its own writes until it commits
    (`commit`) or forgets them (`rollback`). A real connection runs each method as SQL
    inside a transaction (BEGIN ... COMMIT or ROLLBACK)."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._writes: dict[uuid.UUID, Row] = {}
        self.closed = False

    def get(self, key: uuid.UUID) -> Row | None:
        """The row with this id, or None (`SELECT ... WHERE id = $1`)."""
        row = self._writes.get(key)
        if row is None:
            row = self._database._rows.get(key)
        return None if row is None or row is _DELETED else dict(row)

    def select(self, *, done: bool | None, limit: int, offset: int) -> list[Row]:
        """Rows in insertion order, those whose `done` matches if given (`SELECT ...
        WHERE done = $1 ORDER BY created LIMIT $2 OFFSET $3`)."""
        found: list[Row] = []
        for row in self._visible():
            if done is not None and row["done"] is not done:
                continue
            if offset:
                offset -= 1
                continue
            if len(found) == limit:
                break
            found.append(dict(row))
        return found

    def insert(self, row: Row) -> None:
        """Stage a new row (`INSERT`)."""
        self._writes[row["id"]] = dict(row)

    def update(self, key: uuid.UUID, changes: Row) -> Row | None:
        """Stage changes to a row (`UPDATE ... RETURNING *`); None if there is none."""
        row = self.get(key)
        if row is None:
            return None
        row.update(changes)
        self._writes[key] = row
        return dict(row)

    def delete(self, key: uuid.UUID) -> bool:
        """Stage the removal of a row (`DELETE`); False if there was none."""
        if self.get(key) is None:
            return False
        self._writes[key] = _DELETED
        return True

    def commit(self) -> None:
        """Make the staged writes visible to everyone."""
        writes, self._writes = self._writes, {}
        if writes:
            self._database._apply(writes)

    def rollback(self) -> None:
        """Forget the staged writes."""
        self._writes = {}

    def close(self) -> None:
        """Give the connection back; what was not committed is rolled back."""
        if not self.closed:
            self.closed = True
            self.rollback()
            self._database._release()

    def _visible(self) -> Iterator[Row]:
        database = self._database
        with database._lock:  # a commit on another thread may change the dict
            rows = dict(database._rows)
        for key, row in rows.items():
            mine = self._writes.get(key, row)
            if mine is not _DELETED:
                yield mine
        for key, row in self._writes.items():
            if key not in rows and row is not _DELETED:
                yield row
