"""A second simulation worker in a process of its own, so a demo uses every core (one Python
process runs on one core at a time). Started and stopped by `simulation(extra_workers=N)`:

    python -m loyalflow.simulation.worker_process TARGET_HOST NAMESPACE

Its settings come from the environment the simulation prepares (`worker_environment`).
"""

import asyncio
import os
import signal
import sys

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from loyalflow.config import Settings
from loyalflow.runtime.worker import build_worker

# Provider and codec settings of the operator's environment must not leak into a simulation.
_DROPPED = (
    "LOYALFLOW_SMTP_HOST",
    "LOYALFLOW_TWILIO_ACCOUNT_SID",
    "LOYALFLOW_CODEC_KEYS",
    "LOYALFLOW_CODEC_KEY_ID",
)


def worker_environment(settings: Settings) -> dict[str, str]:
    """The environment that gives a worker process the simulation's own settings."""
    environment = {k: v for k, v in os.environ.items() if k not in _DROPPED}
    assert settings.secret_key is not None
    environment.update(
        {
            "LOYALFLOW_HOME": str(settings.home),
            "LOYALFLOW_DATABASE_URL": settings.effective_database_url,
            "LOYALFLOW_JOURNEYS_DIR": str(settings.journeys_dir),
            "LOYALFLOW_TEMPORAL_TASK_QUEUE": settings.temporal_task_queue,
            "LOYALFLOW_SECRET_KEY": settings.secret_key.get_secret_value(),
            "LOYALFLOW_WORKER_MAX_CACHED_WORKFLOWS": str(settings.worker_max_cached_workflows),
        }
    )
    return environment


async def serve(target_host: str, namespace: str) -> None:
    client = await Client.connect(
        target_host, namespace=namespace, data_converter=pydantic_data_converter
    )
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with build_worker(client, Settings(), sandboxed=False):
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1], sys.argv[2]))
