"""The event vocabulary: types clients post, types loyalflow derives, engagement types, and the
shape of a custom type's name (declared ones are checked against events.yaml by the catalog).
"""

from typing import Annotated

from pydantic import Field

# Events a client may post. Derived events are computed by loyalflow itself.
INGESTED_EVENT_TYPES = (
    "member.joined",
    "purchase",
    "visit",
    "points.adjusted",
    "consent.updated",
    "profile.updated",
    "redemption.cancelled",
    "member.referred",
)


DERIVED_EVENT_TYPES = (
    "purchase.first",
    "tier.upgraded",
    "tier.downgraded",
    "member.inactive",
    "points.expired",
    "points.expiring",
    "points.redeemed",
    "tier.near_next",
    "tier.will_downgrade",
    "referral.converted",
)


# Recorded by engagement tracking and the bounce receiver (issue 16), never posted.
ENGAGEMENT_EVENT_TYPES = (
    "email.delivered",
    "email.opened",
    "email.clicked",
    "email.bounced",
    "email.complained",
    "sms.clicked",
)


EVENT_TYPES = INGESTED_EVENT_TYPES + DERIVED_EVENT_TYPES + ENGAGEMENT_EVENT_TYPES


# The trigger of a journey started by a segment sweep rather than by an event.
SEGMENT_TRIGGER_TYPE = "segment.entered"


# Built-in types, or custom ones declared in events.yaml: which types exist is checked when
# the catalog loads (loyalflow.catalog.checks), since this module reads no file.
EVENT_TYPE_PATTERN = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$"


EventType = Annotated[str, Field(pattern=EVENT_TYPE_PATTERN, max_length=64)]
