"""A member as the API and the CLI show it: profile, consents and the loyalty summary.

Read-only, and apart from ingestion so that `loyalflow member get` imports only what a read needs
(the ingest path pulls in rules, promotions, redemptions and the ledger).
"""

from sqlmodel import col, select

from loyalflow.members.tiers import points_summary
from loyalflow.models.db import session_scope
from loyalflow.models.member_view import ConsentOut, MemberOut
from loyalflow.models.tables import Consent, Member
from loyalflow.rules.loyalty import TierLadder


def get_member(url: str, member_id: str, ladder: TierLadder) -> MemberOut | None:
    """The member with their consents and points summary, or None when there is no such member.
    `ladder` is the program's tiers (from `loyalty.yaml`), for what the next tier needs."""
    with session_scope(url) as session:
        member = session.get(Member, member_id)
        if member is None:
            return None
        consents = session.exec(
            select(Consent).where(Consent.member_id == member_id).order_by(col(Consent.channel))
        )
        return MemberOut.model_validate(
            {
                **member.model_dump(),
                "consents": [ConsentOut.model_validate(c) for c in consents],
                "loyalty": points_summary(session, member, ladder),
            }
        )
