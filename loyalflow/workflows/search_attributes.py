"""Custom search attributes. Values are ids and step names only, never contact details."""

from temporalio.common import SearchAttributeKey

MEMBER_ID = SearchAttributeKey.for_keyword("MemberId")
JOURNEY_ID = SearchAttributeKey.for_keyword("JourneyId")
JOURNEY_VERSION = SearchAttributeKey.for_keyword("JourneyVersion")
STEP = SearchAttributeKey.for_keyword("Step")
VARIANT = SearchAttributeKey.for_keyword("Variant")

ALL = (MEMBER_ID, JOURNEY_ID, JOURNEY_VERSION, STEP, VARIANT)
