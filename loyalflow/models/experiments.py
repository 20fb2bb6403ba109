"""A/B assignment: a deterministic hash of (experiment, member), so a member lands in the same
group on every retry, replay and re-entry, and on every worker, with no shared state."""

import hashlib
from collections.abc import Sequence

BUCKETS = 10_000


def bucket(experiment: str, member_id: str) -> int:
    digest = hashlib.sha256(f"{experiment}\x00{member_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def assign_variant(experiment: str, member_id: str, groups: Sequence[tuple[str, int]]) -> str:
    """`groups`: (name, percentage) summing to 100, in a fixed order."""
    position = bucket(experiment, member_id)
    boundary = 0
    for name, weight in groups:
        boundary += weight * BUCKETS // 100
        if position < boundary:
            return name
    return groups[-1][0]
