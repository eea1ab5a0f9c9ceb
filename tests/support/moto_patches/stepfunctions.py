"""Step Functions settings: the named patches of moto's Step Functions.

Its ASL interpreter turned on (a setting that must be in place before the first Step Functions backend
is created), ValidateStateMachineDefinition and ListStateMachineVersions, unnamed executions, and the
history event limit (``SFN_MAX_HISTORY_EVENTS``, read here: patch it in this module).
"""

from __future__ import annotations

import functools
import json
import time
import uuid
from typing import Any

from tests.support.moto_patches.registry import _patch


@_patch(
    "moto Step Functions only records executions as RUNNING; turn on its ASL interpreter "
    "(config stepfunctions.execute_state_machine) so definitions really run."
)
def sfn_execute_state_machines() -> None:
    from moto.core.config import default_user_config

    default_user_config.setdefault("stepfunctions", {})["execute_state_machine"] = True


@_patch(
    "Step Functions ValidateStateMachineDefinition is not implemented (the AWS provider calls it); "
    "answer OK for a definition moto's ASL parser accepts, FAIL with a diagnostic otherwise."
)
def sfn_validate_state_machine_definition() -> None:
    from moto.core.responses import ActionResult
    from moto.stepfunctions.responses import StepFunctionResponse

    def validate_state_machine_definition(self: StepFunctionResponse) -> ActionResult:
        definition = self._get_param("definition") or ""
        diagnostics = _definition_diagnostics(definition)
        return ActionResult(
            {"result": "FAIL" if diagnostics else "OK", "diagnostics": diagnostics, "truncated": False}
        )

    StepFunctionResponse.validate_state_machine_definition = validate_state_machine_definition  # type: ignore[attr-defined]


def _definition_diagnostics(definition: str) -> list[dict[str, str]]:
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    try:
        json.loads(definition)
    except ValueError as error:
        return [_diagnostic("INVALID_JSON_DESCRIPTION", str(error))]
    try:
        AmazonStateLanguageParser.parse(definition)
    except Exception as error:
        return [_diagnostic("SCHEMA_VALIDATION_FAILED", f"{type(error).__name__}: {error}")]
    return []


def _diagnostic(code: str, message: str) -> dict[str, str]:
    return {"severity": "ERROR", "code": code, "message": message, "location": "/"}


@_patch(
    "Step Functions ListStateMachineVersions is not implemented (the AWS provider calls it); list the "
    "versions moto records when a state machine is published, newest first."
)
def sfn_list_state_machine_versions() -> None:
    from moto.core.responses import ActionResult
    from moto.stepfunctions.responses import StepFunctionResponse

    def list_state_machine_versions(self: StepFunctionResponse) -> ActionResult:
        arn = self._get_param("stateMachineArn")
        state_machine = self.stepfunction_backend.describe_state_machine(arn)
        versions = sorted(state_machine.versions.items(), reverse=True)
        return ActionResult(
            {
                "stateMachineVersions": [
                    {"stateMachineVersionArn": version.arn, "creationDate": version.creation_date}
                    for _, version in versions
                ]
            }
        )

    StepFunctionResponse.list_state_machine_versions = list_state_machine_versions  # type: ignore[attr-defined]


@_patch(
    "With execution on, StartExecution without a name names the execution None, so the second unnamed "
    "start fails with ExecutionAlreadyExists; give it a UUID like AWS."
)
def sfn_unnamed_executions() -> None:
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    original = StepFunctionsParserBackend.start_execution

    @functools.wraps(original)
    def start_execution(
        self: StepFunctionsParserBackend,
        state_machine_arn: str,
        name: Any = None,
        execution_input: Any = None,
        trace_header: Any = None,
    ) -> Any:
        return original(self, state_machine_arn, name or str(uuid.uuid4()), execution_input, trace_header)

    StepFunctionsParserBackend.start_execution = start_execution  # type: ignore[method-assign]


SFN_MAX_HISTORY_EVENTS = 25_000
"""A STANDARD execution fails when its history reaches this many events."""


@_patch(
    "A STANDARD execution fails once its history reaches 25,000 events (each child execution of a "
    "Distributed Map has its own history); moto keeps going. Fail it with States.Runtime."
)
def sfn_history_event_limit() -> None:
    import weakref

    from moto.stepfunctions.parser.api import ExecutionFailedEventDetails
    from moto.stepfunctions.parser.asl.eval.environment import Environment
    from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager

    create = Environment.__init__

    @functools.wraps(create)
    def __init__(self: Environment, *args: Any, **kwargs: Any) -> None:
        create(self, *args, **kwargs)
        self.event_manager._history_of = weakref.ref(self)  # type: ignore[attr-defined]

    add = EventManager.add_event

    @functools.wraps(add)
    def add_event(self: EventManager, *args: Any, **kwargs: Any) -> int:
        event_id = add(self, *args, **kwargs)
        owner = getattr(self, "_history_of", None)
        execution = owner() if owner is not None else None
        full = len(self._history_event_list) >= SFN_MAX_HISTORY_EVENTS
        if execution is not None and full and not getattr(execution, "_history_full", False):
            execution.set_error(
                ExecutionFailedEventDetails(
                    error="States.Runtime",
                    cause=f"The execution reached the maximum number of history events "
                    f"({SFN_MAX_HISTORY_EVENTS}).",
                )
            )
            execution._history_full = True
        return event_id

    fail = Environment.set_error

    @functools.wraps(fail)
    def set_error(self: Environment, error: Any) -> None:
        # The state that was running when the history filled up fails in its own way afterwards;
        # the execution keeps the history's error.
        if not getattr(self, "_history_full", False):
            fail(self, error)

    Environment.__init__ = __init__  # type: ignore[method-assign]
    Environment.set_error = set_error  # type: ignore[method-assign]
    EventManager.add_event = add_event  # type: ignore[method-assign]


@_patch(
    "Step Functions sends an 'Execution Status Change' event to the default EventBridge bus when a "
    "STANDARD execution starts and when it ends (SUCCEEDED, FAILED, TIMED_OUT, ABORTED); moto sends "
    "none. Send AWS's shape to the rules of the execution's account and region."
)
def sfn_execution_status_change_events() -> None:
    from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication, Execution

    start = Execution.start

    @functools.wraps(start)
    def started(self: Execution) -> None:
        start(self)
        _status_changed(self)

    terminated = BaseExecutionWorkerCommunication.terminated

    @functools.wraps(terminated)
    def ended(self: BaseExecutionWorkerCommunication) -> None:
        terminated(self)
        _status_changed(self.execution)

    Execution.start = started  # type: ignore[method-assign]
    BaseExecutionWorkerCommunication.terminated = ended  # type: ignore[method-assign]


def _millis(moment: Any) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1000)


def _status_changed(execution: Any) -> None:
    """The execution's status change, as EventBridge delivers it, to every rule of the default bus."""
    from moto.events.models import events_backends

    if str(execution.sm_type) not in ("STANDARD", "StateMachineType.STANDARD"):
        return
    status = execution.exec_status.value if hasattr(execution.exec_status, "value") else execution.exec_status
    succeeded = status == "SUCCEEDED"
    event = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "account": execution.account_id,
        "region": execution.region_name,
        "resources": [execution.exec_arn],
        "detail": {
            "executionArn": execution.exec_arn,
            "stateMachineArn": execution.state_machine.arn,
            "name": execution.name,
            "status": status,
            "startDate": _millis(execution.start_date),
            "stopDate": _millis(execution.stop_date),
            "input": json.dumps(execution.input_data, separators=(",", ":")),
            "output": json.dumps(execution.output, separators=(",", ":")) if succeeded else None,
            "inputDetails": {"included": True},
            "outputDetails": {"included": True} if succeeded else None,
            "error": execution.error,
            "cause": execution.cause,
        },
    }
    # moto's rules want the times as numbers (their default input template writes `time` unquoted)
    # and read when EventBridge received the event; the Lambda targets get AWS's ISO time again.
    event["time"] = event["ingestion-time"] = time.time()
    backend = events_backends[execution.account_id][execution.region_name]
    for rule in list(backend.describe_event_bus("default").rules.values()):
        rule.send_to_targets(event)
