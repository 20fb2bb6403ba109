"""POST /members/{id}/redemptions: spend points on a reward, once per client redemption id."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field

from loyalflow.api.deps import SettingsDep, TemporalDep, TokenDep
from loyalflow.api.errors import ErrorOut, error_responses
from loyalflow.members.redemption import RedemptionOutcome, RedemptionRefused, redeem
from loyalflow.models.api import MEMBER_ID_PATTERN
from loyalflow.routing.router import route_events
from loyalflow.rules.loyalty import rules_from
from loyalflow.rules.rewards import rewards_from

router = APIRouter(prefix="/members", tags=["members"])


class RedemptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # The client's id, unique per member: a retried request with the same id redeems once.
    redemption_id: Annotated[str, Field(min_length=1, max_length=96, pattern=r"^[\x21-\x7e]+$")]
    reward_id: Annotated[str, Field(min_length=1, max_length=64)]


class RedemptionOut(BaseModel):
    redemption_id: str
    member_id: str
    reward_id: str
    cost: int
    status: str
    at: datetime
    balance: int  # the member's points after this redemption (or now, for a repeat)


def redemption_out(outcome: RedemptionOutcome) -> RedemptionOut:
    r = outcome.redemption
    return RedemptionOut(
        redemption_id=r.id,
        member_id=r.member_id,
        reward_id=r.reward_id,
        cost=r.cost,
        status=r.status,
        at=r.at,
        balance=outcome.balance,
    )


@router.post(
    "/{member_id}/redemptions",
    response_model=RedemptionOut,
    status_code=status.HTTP_201_CREATED,
    dependencies=[TokenDep],
    responses={
        **error_responses(400, 401, 404, 409),
        200: {
            "model": RedemptionOut,
            "description": "this redemption id was already redeemed: the same answer",
        },
        404: {"model": ErrorOut, "description": "no such member"},
        409: {
            "model": ErrorOut,
            "description": "not enough points (naming balance and cost), tier or stock",
        },
        422: {"description": "unknown or inactive reward, or a reused redemption id"},
    },
)
async def post_redemption(
    member_id: Annotated[str, Path(pattern=MEMBER_ID_PATTERN)],
    body: RedemptionIn,
    settings: SettingsDep,
    temporal: TemporalDep,
    response: Response,
) -> RedemptionOut:
    try:
        outcome = await run_in_threadpool(
            redeem,
            settings.effective_database_url,
            member_id,
            body.redemption_id,
            body.reward_id,
            rewards=rewards_from(settings.rewards_file),
            rules=rules_from(settings.loyalty_rules_file),
        )
    except RedemptionRefused as refused:
        if refused.status == 422:
            raise RequestValidationError(
                [{"loc": ["body", refused.field], "msg": refused.message, "type": "value_error"}]
            ) from refused
        raise HTTPException(refused.status, refused.message) from refused
    if not outcome.created:
        response.status_code = status.HTTP_200_OK
    # Stored first: if routing fails here, the re-router finishes it.
    await route_events(temporal, settings, outcome.events)
    return redemption_out(outcome)
