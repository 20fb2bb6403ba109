"""One line of `loyalflow engagement`, apart from the SQLAlchemy query in engagement.py, so the
CLI's plain-SQL reader (cli/readers) builds the same shape without loading the ORM."""

from dataclasses import dataclass


@dataclass(frozen=True)
class EngagementRow:
    journey_id: str
    step_id: str
    sent: int
    human_opens: int
    human_clicks: int
    machine_opens: int  # messages opened by machines (Apple MPP, scanners), people or not
    machine_clicks: int  # messages whose links machines followed
    bounced: int
