"""Finding members by id, email or phone: exact matches on indexed columns, paged by id."""

import re
from dataclasses import dataclass

from sqlalchemy import or_
from sqlmodel import col, select

from loyalflow.models.db import read_scope
from loyalflow.models.tables import Member

PAGE_SIZE = 25
_PHONE_SEPARATORS = re.compile(r"[\s().-]")


@dataclass(frozen=True)
class MemberHit:
    id: str
    first_name: str | None
    email: str | None
    phone: str | None
    tier: str | None
    points: int


def phone_form(text: str) -> str | None:
    """`+33 6 12-34-56-78` or `0033612345678` -> `+33612345678` (phones are stored in E.164)."""
    compact = _PHONE_SEPARATORS.sub("", text)
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    return compact if re.fullmatch(r"\+[1-9]\d{6,14}", compact) else None


def find_members(
    url: str, query: str, *, by_contact: bool, after: str | None = None
) -> tuple[list[MemberHit], str | None]:
    """Members whose id is `query`, or (with `by_contact`) whose email or phone is; at most one
    page, ordered by id after `after`. Returns the page and the cursor of the next one."""
    query = query.strip()[:320]
    if not query:
        return [], None
    matches = [col(Member.id) == query]
    if by_contact:
        matches.append(col(Member.email).in_({query, query.lower()}))
        phone = phone_form(query)
        if phone:
            matches.append(col(Member.phone) == phone)
    statement = select(Member).where(or_(*matches))
    if after:
        statement = statement.where(col(Member.id) > after)
    statement = statement.order_by(col(Member.id)).limit(PAGE_SIZE + 1)
    with read_scope(url) as session:
        rows = list(session.exec(statement))
    hits = [
        MemberHit(m.id, m.first_name, m.email, m.phone, m.tier, m.points) for m in rows[:PAGE_SIZE]
    ]
    return hits, (hits[-1].id if len(rows) > PAGE_SIZE else None)
