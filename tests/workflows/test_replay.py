"""Replay of committed histories: today's workflow code must reproduce yesterday's runs exactly.

A failure here means a change would break journeys already in flight: guard it with
`workflow.patched` (see tests/histories/record.py for recording new histories).
"""

import base64
import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from loyalflow.config import Settings
from loyalflow.workflows.journey import JourneyWorkflow
from loyalflow.workflows.segment_sweep import SegmentSweepWorkflow

HISTORIES = {
    path.stem: path.read_text()
    for path in sorted((Path(__file__).parent.parent / "histories").glob("*.json"))
}


def test_every_built_in_journey_has_a_committed_history() -> None:
    built_in = {path.stem for path in Settings(_env_file=None).journeys_dir.glob("*.yaml")}
    recorded = {
        json.loads(text)["events"][0]["workflowExecutionStartedEventAttributes"]["input"][
            "payloads"
        ][0]["data"]
        for text in HISTORIES.values()
    }
    journeys = {json.loads(base64.b64decode(data))["journey"]["id"] for data in recorded}
    assert built_in <= journeys, f"record histories for {built_in - journeys}"


# Sandboxed, as in every workflow test; unsandboxed, as `loyalflow worker` runs journeys by
# default (LOYALFLOW_WORKFLOW_SANDBOX): both must reproduce every committed run.
RUNNERS: dict[str, WorkflowRunner] = {
    "sandboxed": SandboxedWorkflowRunner(),
    "unsandboxed": UnsandboxedWorkflowRunner(),
}


@pytest.mark.parametrize("runner", RUNNERS)
@pytest.mark.parametrize("name", HISTORIES)
async def test_history_replays_with_current_code(name: str, runner: str) -> None:
    replayer = Replayer(
        workflows=[JourneyWorkflow, SegmentSweepWorkflow],
        data_converter=pydantic_data_converter,
        workflow_runner=RUNNERS[runner],
    )
    history = WorkflowHistory.from_json(name, HISTORIES[name])
    await replayer.replay_workflow(history)
