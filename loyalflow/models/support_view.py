"""What `runs ambiguous` shows, apart from support/runs.py (Temporal's client and the ORM), so the
CLI's plain-SQL reader (cli/readers) builds the same shape without loading either."""

from datetime import datetime

from pydantic import BaseModel


class AmbiguousSend(BaseModel):
    """A message the provider may have had when its attempt was interrupted."""

    message_id: str
    member_id: str
    journey_id: str
    step_id: str
    channel: str
    status: str  # failed (written off), or sent (re-sent, or its late outcome recorded)
    handed_at: datetime  # the interrupted attempt's hand-over to the provider
    reason: str | None
