from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import text

from loyalflow.api.deps import SettingsDep
from loyalflow.models.db import get_engine

router = APIRouter(tags=["operations"])


def _database_ok(url: str) -> None:
    with get_engine(url).connect() as connection:
        connection.execute(text("SELECT 1"))


@router.get("/healthz")
async def healthz(settings: SettingsDep) -> dict[str, str]:
    await run_in_threadpool(_database_ok, settings.effective_database_url)
    return {"status": "ok"}
