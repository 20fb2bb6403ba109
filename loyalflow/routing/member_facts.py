"""Member facts: the few member fields a journey's conditions and waits read."""

from datetime import datetime
from decimal import Decimal
from typing import Any

from loyalflow.models.conditions import MEMBER_FIELDS
from loyalflow.models.db import read_scope
from loyalflow.models.tables import Member
from loyalflow.models.workflow_io import MemberFacts, MemberFactsRequest

# What workflows may read about a member: never contact details or names (no PII in history).
READABLE_FIELDS = frozenset(MEMBER_FIELDS) | {"timezone", "attributes"}


def fact(member: Member, field: str) -> Any:
    if field == "tags":
        return list(member.attributes.get("tags", []))
    value = getattr(member, field)
    if isinstance(value, Decimal):
        return float(value)  # conditions compare numbers; JSON would turn a Decimal into text
    return value.isoformat() if isinstance(value, datetime) else value


def member_facts(url: str, request: MemberFactsRequest) -> MemberFacts:
    """`attributes.birthday` reads one custom attribute; `attributes` reads them all."""
    with read_scope(url) as session:
        member = session.get(Member, request.member_id)
        if member is None:
            return MemberFacts(found=False)
        values: dict[str, Any] = {}
        for field in request.fields:
            top, _, attribute = field.partition(".")
            if top not in READABLE_FIELDS:
                raise ValueError(f"member field {top!r} cannot be read by a journey")
            if top == "attributes" and attribute:
                values.setdefault("attributes", {})[attribute] = member.attributes.get(attribute)
            elif top == "attributes":
                values["attributes"] = dict(member.attributes)
            else:
                values[top] = fact(member, top)
        return MemberFacts(found=True, values=values)
