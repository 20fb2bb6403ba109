"""GET /members/{id}/timeline: the member's whole story, for support tools."""

from fastapi import APIRouter, HTTPException, status

from loyalflow.api.deps import SettingsDep, TemporalDep, TokenDep
from loyalflow.api.errors import error_responses
from loyalflow.api.routes.members import MemberIdPath
from loyalflow.models.timeline import Timeline
from loyalflow.support.timeline import member_timeline

router = APIRouter(prefix="/members", tags=["members"])


@router.get(
    "/{member_id}/timeline",
    response_model=Timeline,
    dependencies=[TokenDep],
    responses=error_responses(401, 404),
)
async def read_timeline(
    member_id: MemberIdPath, settings: SettingsDep, temporal: TemporalDep
) -> Timeline:
    """Events, points, tier and consent changes, journey entries, steps and exits, every message
    and every message not sent with its reason, support actions, and links to the runs in the
    Temporal Web UI. Read from the database (closed runs outlive Temporal's history retention);
    running runs add their live trail when Temporal answers."""
    timeline = await member_timeline(settings, member_id, temporal)
    if timeline is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no member {member_id!r}")
    return timeline
