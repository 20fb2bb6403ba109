"""Which workflow runner runs which workflow: the sandbox, or none for the journey interpreter.

`LOYALFLOW_WORKFLOW_SANDBOX=false` (the default) makes `loyalflow worker` run `JourneyWorkflow`
without temporalio's sandbox and every other workflow in it. Why that is safe for journeys: a
journey is data (YAML that the journey workflow interprets), so no user code ever runs in a
workflow; the interpreter is loyalflow's own code, and its determinism is guarded where it
changes, in the test suite: every workflow test builds its worker with the sandbox
(`build_worker` defaults to it), and the replay tests replay every committed history both
sandboxed and unsandboxed. What the sandbox costs: a fresh module instance per new run and a hop
into it for every activation and payload, 12 ms of CPU per welcome run in replays
(bench/replay_cost.py; bench/README.md, session 6).
"""

from collections.abc import Sequence

from temporalio.worker import (
    UnsandboxedWorkflowRunner,
    WorkflowInstance,
    WorkflowInstanceDetails,
    WorkflowRunner,
)
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner
from temporalio.workflow import _Definition

from loyalflow.workflows.journey import JourneyWorkflow

# Workflow types that may run unsandboxed; the others always run in the sandbox.
UNSANDBOXED_WHEN_ALLOWED = frozenset({_Definition.must_from_class(JourneyWorkflow).name})


class JourneyRunner(WorkflowRunner):
    """The sandbox for every workflow but the journey interpreter, which runs without it."""

    def __init__(self) -> None:
        self.sandboxed = SandboxedWorkflowRunner()
        self.unsandboxed = UnsandboxedWorkflowRunner()

    def _runner_for(self, name: str | None) -> WorkflowRunner:
        return self.unsandboxed if name in UNSANDBOXED_WHEN_ALLOWED else self.sandboxed

    def prepare_workflow(self, defn: _Definition) -> None:
        self._runner_for(defn.name).prepare_workflow(defn)

    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        return self._runner_for(det.defn.name).create_instance(det)

    def set_worker_level_failure_exception_types(
        self, types: Sequence[type[BaseException]]
    ) -> None:
        self.sandboxed.set_worker_level_failure_exception_types(types)
        self.unsandboxed.set_worker_level_failure_exception_types(types)


def workflow_runner(*, sandboxed: bool = True, sandbox_journeys: bool = True) -> WorkflowRunner:
    """`sandboxed=False`: no sandbox at all (simulations); `sandbox_journeys=False`: the
    sandbox for every workflow but the journey interpreter (`LOYALFLOW_WORKFLOW_SANDBOX`)."""
    if not sandboxed:
        return UnsandboxedWorkflowRunner()
    return SandboxedWorkflowRunner() if sandbox_journeys else JourneyRunner()
