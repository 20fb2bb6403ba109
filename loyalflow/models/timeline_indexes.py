"""The member timeline's indexes: each source of a member's timeline by member and time, so the
console's first page of a member with 100,000 entries reads a page, not them all
(support/timeline_page.py; migration 0025). Declared on the tables of `tables.py` and
`points_tables.py`."""

from typing import Any

from sqlalchemy import Index, func
from sqlmodel import SQLModel

from loyalflow.models import points_tables as _points_tables  # noqa: F401  (the tables first)
from loyalflow.models import tables as _tables_module  # noqa: F401


def _member_time_index(table: str, *columns: Any) -> Index:
    return Index(f"ix_{table}_member_time", *columns)


_tables = SQLModel.metadata.tables
for _name, _time in (
    ("event", "occurred_at"),
    ("points_ledger", "at"),
    ("journey_step", "at"),
    ("support_action", "at"),
):
    _member_time_index(_name, _tables[_name].c.member_id, _tables[_name].c[_time])
Index(
    "ix_enrollment_member_entered",
    _tables["enrollment"].c.member_id,
    _tables["enrollment"].c.entered_at,
)
Index(
    "ix_enrollment_member_converted",
    _tables["enrollment"].c.member_id,
    _tables["enrollment"].c.converted_at,
)
# A message's time on the timeline: when it was sent, else when it was decided.
_member_time_index(
    "message",
    _tables["message"].c.member_id,
    func.coalesce(_tables["message"].c.sent_at, _tables["message"].c.created_at),
)
