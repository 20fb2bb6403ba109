"""Rows an ingest batch keeps back and writes in one statement just before its session commits
(one statement per batch, not per event): the activity months and `purchase_previous` use it."""

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import event
from sqlalchemy.orm import Session as OrmSession

Batch = TypeVar("Batch")


def batch_until_commit(
    session: OrmSession,
    key: str,
    empty: Callable[[], Batch],
    write: Callable[[OrmSession, Batch], None],
) -> Batch:
    """The session's batch under `key`, made by `empty` on first use. Before each commit, `write`
    gets the batch and the session starts a new empty one (the hook is registered once)."""
    batch: Batch | None = session.info.get(key)
    if batch is None:
        batch = session.info[key] = empty()

        def write_before_commit(committing: OrmSession) -> None:
            kept: Batch = committing.info[key]
            committing.info[key] = empty()
            write(committing, kept)

        event.listen(session, "before_commit", write_before_commit)
    return batch
