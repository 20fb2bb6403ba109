"""Connecting to Temporal: the embedded dev server, a cluster, or Temporal Cloud."""

import asyncio

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError

from loyalflow.config import Settings


async def connect(settings: Settings, *, wait_seconds: float = 0) -> Client:
    """Connects, retrying for up to `wait_seconds` while the server is still starting."""
    deadline = asyncio.get_running_loop().time() + wait_seconds
    while True:
        try:
            return await Client.connect(
                settings.effective_temporal_address,
                namespace=settings.temporal_namespace,
                data_converter=pydantic_data_converter,
                tls=settings.temporal_tls,
                api_key=(
                    settings.temporal_api_key.get_secret_value()
                    if settings.temporal_api_key
                    else None
                ),
            )
        except (RuntimeError, RPCError, OSError):
            if asyncio.get_running_loop().time() >= deadline:
                raise
            await asyncio.sleep(0.5)
