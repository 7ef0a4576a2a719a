"""Counters continued in memory for the rest of a batch, once the first take has locked their row.

A create takes its community's next call id and its server's next event number, each an
``UPDATE ... SET n = n + 1 RETURNING n`` that locks the counter's row until the commit. In a batch of
writes (storage.database) the first take of a counter runs that statement; the batch's later takes count
on in memory from the row it returned, and each counter's row is written once, before the commit. While
the row stays locked (the batch's own transaction holds it), nobody else can take from it, so the numbers
are the ones the statements would have given, one per take, with no gap.

Only a batch that runs without savepoints continues counts: if one of its writes fails, the whole batch
is rolled back (and run again with a savepoint per write, which takes every number from the row, so a
write rolled back alone leaves no gap). Outside a batch (``Database.transaction``, reads) every take runs
its statement.

What the first take's statement returned besides the count (an event number's push target state) is
kept for the later takes; a write that changes that state in the same batch calls ``release`` first.
A savepoint (``begin_nested``) writes every held counter first, and takes inside it run their
statement: rolling the savepoint back then undoes exactly its own takes.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from opendispatch.storage.statements import Prepared, Returning

_COUNTERS = "opendispatch.counters"


class Continued:
    """A later take's row: the first take's row with the count moved on by ``step``."""

    __slots__ = ("_held", "_step")

    def __init__(self, held: _Held, step: int) -> None:
        self._held = held
        self._step = step

    def row(self) -> Any:
        """The row as a tuple (the count first), or None if the first take found no row."""
        first = self._held.first.row()
        if first is None:
            return None
        return (first[0] + self._step, *first[1:])


# What a take gives: the row its statement returned, or one continued from the batch's first take.
Taken = Returning | Continued


@dataclass(slots=True)
class _Held:
    first: Returning  # the locking statement's row
    store: Prepared  # sets the counter to ``value``
    params: dict[str, Any]
    taken: int = 1  # takes so far, the first included


@dataclass(slots=True)
class _Batch:
    held: dict[Hashable, _Held] = field(default_factory=dict)


def begin(connection: Connection) -> None:
    """Let takes continue in memory until ``flush`` (a batch without savepoints)."""
    connection.info[_COUNTERS] = _Batch()


def discard(connection: Connection) -> None:
    """Forget the batch's counters (it was rolled back, or has been flushed)."""
    connection.info.pop(_COUNTERS, None)


def take(conn: Connection, key: Hashable, lock: Prepared, params: dict[str, Any], store: Prepared) -> Taken:
    """Take the next count of the counter ``key``: ``lock`` runs on the first take, ``store`` at the flush.

    ``lock`` increments the counter and returns it first (or no row); ``store`` sets it to ``:value``.
    Both take ``params``.
    """
    batch: _Batch | None = conn.info.get(_COUNTERS)
    if batch is None or conn.in_nested_transaction():
        # In a savepoint the take must be undone with it: the row, not memory, counts.
        return lock.returning(conn, params)
    held = batch.held.get(key)
    if held is None:
        first = lock.returning(conn, params)
        batch.held[key] = _Held(first, store, params)
        return first
    held.taken += 1
    return Continued(held, held.taken - 1)


def release(conn: Connection, match: Any) -> None:
    """Write and forget the held counters whose key starts with ``match``: their next take runs ``lock``."""
    batch: _Batch | None = conn.info.get(_COUNTERS)
    if batch is None:
        return
    for key in [key for key in batch.held if isinstance(key, tuple) and key[: len(match)] == match]:
        _store(conn, batch.held.pop(key))


def before_savepoint(connection: Connection) -> None:
    """Write and forget every held counter: a savepoint rolled back must not undo what memory counts on."""
    release(connection, ())


def flush(connection: Connection) -> None:
    """Write every counter taken from in memory (before the commit) and forget them all."""
    batch: _Batch | None = connection.info.pop(_COUNTERS, None)
    if batch is None:
        return
    for held in batch.held.values():
        _store(connection, held)


def _store(conn: Connection, held: _Held) -> None:
    if held.taken == 1:
        return  # the locking statement wrote it
    first = held.first.row()
    if first is not None:
        held.store.run(conn, {**held.params, "value": first[0] + held.taken - 1})
