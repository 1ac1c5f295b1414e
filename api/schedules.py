"""Keeping each workflow's Temporal Schedule in step with its `schedule` trigger."""

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TypeVar

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError, RPCStatusCode

from api.errors import ServiceUnavailable
from api.launch import temporal_priority
from core.config import Settings
from core.models import Workflow
from workflows.contract import RunOrigin
from workflows.dag import DagWorkflow, RunInput
from workflows.definition import Definition, ScheduleTrigger, resolve_inputs
from workflows.durations import parse_duration

T = TypeVar("T")


def schedule_id(workflow: Workflow) -> str:
    return f"workflow-{workflow.id}"


async def sync_schedule(
    client: Client, settings: Settings, workflow: Workflow, definition: Definition
) -> None:
    """Create, update or remove the workflow's schedule so it matches `definition`."""
    trigger = definition.trigger
    if not isinstance(trigger, ScheduleTrigger):
        await delete_schedule(client, workflow)
        return
    schedule = _schedule(settings, workflow, definition, trigger)
    try:
        await client.create_schedule(schedule_id(workflow), schedule)
    except ScheduleAlreadyRunningError:
        await _call(
            client.get_schedule_handle(schedule_id(workflow)).update(_replace_with(schedule))
        )
    except RPCError as error:
        raise ServiceUnavailable(f"Temporal did not accept the schedule: {error}") from None


async def delete_schedule(client: Client, workflow: Workflow) -> None:
    try:
        await client.get_schedule_handle(schedule_id(workflow)).delete()
    except RPCError as error:
        if error.status != RPCStatusCode.NOT_FOUND:
            raise ServiceUnavailable(f"Temporal did not delete the schedule: {error}") from None


async def set_paused(client: Client, workflow: Workflow, paused: bool) -> None:
    handle = client.get_schedule_handle(schedule_id(workflow))
    note = "paused in Flowpilot" if paused else "resumed in Flowpilot"
    await _call(handle.pause(note=note) if paused else handle.unpause(note=note))


async def next_fire_times(client: Client, workflow: Workflow) -> list[datetime]:
    description = await _call(client.get_schedule_handle(schedule_id(workflow)).describe())
    return list(description.info.next_action_times)


def _schedule(
    settings: Settings, workflow: Workflow, definition: Definition, trigger: ScheduleTrigger
) -> Schedule:
    inputs = resolve_inputs(definition, {})
    origin = RunOrigin(
        workflow_id=str(workflow.id),
        owner_id=str(workflow.owner_id),
        version=workflow.current_version,
        inputs=inputs,
    )
    action = ScheduleActionStartWorkflow(
        DagWorkflow.run,
        RunInput(
            definition=definition,
            inputs=inputs,
            record=True,
            origin=origin,
            owner_id=str(workflow.owner_id),
            end_records_last_step=True,
        ),
        id=f"scheduled-{workflow.id}",
        task_queue=settings.temporal_task_queue,
        priority=temporal_priority(definition.defaults.priority),
    )
    return Schedule(
        action=action,
        spec=_spec(trigger),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
        state=ScheduleState(paused=workflow.paused),
    )


def _spec(trigger: ScheduleTrigger) -> ScheduleSpec:
    cron = trigger.cron.strip()
    if cron.lower().startswith("@every "):
        every, _, offset = cron[len("@every ") :].strip().partition("/")
        interval = ScheduleIntervalSpec(
            every=parse_duration(every), offset=parse_duration(offset) if offset else None
        )
        return ScheduleSpec(intervals=[interval], time_zone_name=trigger.timezone)
    return ScheduleSpec(cron_expressions=[cron], time_zone_name=trigger.timezone)


def _replace_with(schedule: Schedule) -> Callable[[ScheduleUpdateInput], ScheduleUpdate]:
    def update(_current: ScheduleUpdateInput) -> ScheduleUpdate:
        return ScheduleUpdate(schedule=schedule)

    return update


async def _call(awaitable: Awaitable[T]) -> T:
    """Await a Temporal call, turning its failure into a 503 the API can answer."""
    try:
        return await awaitable
    except RPCError as error:
        raise ServiceUnavailable(f"Temporal schedule call failed: {error}") from None
