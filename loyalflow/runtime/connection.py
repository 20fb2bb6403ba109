"""Connecting to Temporal: the embedded dev server, a cluster, or Temporal Cloud."""

import asyncio

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from loyalflow.config import Settings
from loyalflow.security.codec import data_converter
from loyalflow.workflows import search_attributes as sa


async def connect(settings: Settings, *, wait_seconds: float = 0) -> Client:
    """Connects, retrying for up to `wait_seconds` while the server is still starting.

    Every client loyalflow makes (worker, API, CLI) comes from here, so all of them encrypt and
    decrypt payloads alike when LOYALFLOW_CODEC_KEYS is set.
    """
    converter = data_converter(settings)
    deadline = asyncio.get_running_loop().time() + wait_seconds
    while True:
        try:
            return await Client.connect(
                settings.effective_temporal_address,
                namespace=settings.temporal_namespace,
                data_converter=converter,
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


async def ensure_search_attributes(client: Client, namespace: str) -> list[str]:
    """Registers loyalflow's custom search attributes where missing; returns the ones added.

    The embedded server registers them at start; a self-hosted cluster gets them from the first
    worker. On Temporal Cloud they are created in the namespace settings instead.
    """
    wanted = {key.name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD for key in sa.ALL}
    try:
        existing = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=namespace)
        )
    except RPCError as err:
        if err.status != RPCStatusCode.UNIMPLEMENTED:  # Temporal's time-skipping test server
            raise
        known: set[str] = set()
    else:
        known = set(existing.custom_attributes) | set(existing.system_attributes)
    missing = {name: kind for name, kind in wanted.items() if name not in known}
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
        )
    return sorted(missing)
