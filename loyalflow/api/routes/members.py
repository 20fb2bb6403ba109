from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Response, status
from fastapi.concurrency import run_in_threadpool

from loyalflow.api.deps import SettingsDep, TokenDep
from loyalflow.api.errors import error_responses
from loyalflow.members.ingest import upsert_member
from loyalflow.members.profile import get_member
from loyalflow.models.api import MEMBER_ID_PATTERN, MemberIn
from loyalflow.models.member_view import MemberOut
from loyalflow.rules.loyalty import rules_from

router = APIRouter(prefix="/members", tags=["members"])
MemberIdPath = Annotated[str, Path(pattern=MEMBER_ID_PATTERN)]
# OpenAPI links: after a PUT, the member and its timeline can be read (stateful API tests
# follow them).
_MEMBER_LINKS = {
    "GetMember": {
        "operationId": "read_member_members__member_id__get",
        "parameters": {"member_id": "$request.path.member_id"},
    },
    "GetTimeline": {
        "operationId": "read_timeline_members__member_id__timeline_get",
        "parameters": {"member_id": "$request.path.member_id"},
    },
}


@router.put(
    "/{member_id}",
    response_model=MemberOut,
    dependencies=[TokenDep],
    responses={
        201: {"description": "member created", "links": _MEMBER_LINKS},
        200: {"description": "member updated", "links": _MEMBER_LINKS},
        **error_responses(400, 401),
    },
)
async def put_member(
    member_id: MemberIdPath, body: MemberIn, settings: SettingsDep, response: Response
) -> MemberOut:
    """Creates or updates a member. Fields left out keep their stored value."""
    url = settings.effective_database_url
    _, created = await run_in_threadpool(upsert_member, url, member_id, body)
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    ladder = rules_from(settings.loyalty_rules_file).tiers
    member = await run_in_threadpool(get_member, url, member_id, ladder)
    assert member is not None
    return member


@router.get(
    "/{member_id}",
    response_model=MemberOut,
    dependencies=[TokenDep],
    responses=error_responses(401, 404),
)
async def read_member(member_id: MemberIdPath, settings: SettingsDep) -> MemberOut:
    ladder = rules_from(settings.loyalty_rules_file).tiers
    member = await run_in_threadpool(get_member, settings.effective_database_url, member_id, ladder)
    if member is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no member {member_id!r}")
    return member
