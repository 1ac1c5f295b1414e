"""Natural language in: generate a workflow, change one, explain a failed run (api/nl.py)."""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import Field, model_validator
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api import audit, crud
from api.deps import Editor, SessionDep
from api.errors import Conflict
from api.nl import (
    MAX_PROMPT_CHARS,
    GeneratedWorkflow,
    KnownCredential,
    KnownWorkflow,
    UserContext,
    WorkflowGenerator,
    generator_for,
    run_report,
)
from api.ratelimit import generate_rate_limit
from api.routes.runs import get_run, tasks_of
from api.schemas import Strict
from core.models import Credential, User, Workflow, WorkflowVersion

router = APIRouter(tags=["natural language"], dependencies=[Depends(generate_rate_limit)])
CONTEXT_WORKFLOWS = 50
CONTEXT_CREDENTIALS = 100


class GenerateRequest(Strict):
    prompt: str = Field(
        min_length=3,
        max_length=MAX_PROMPT_CHARS,
        description="What the workflow should do; or, with `definition` or `workflow_id`, "
        "how to change it.",
    )
    definition: dict[str, Any] | None = Field(
        default=None, description="Edit mode: the definition to change."
    )
    workflow_id: uuid.UUID | None = Field(
        default=None, description="Edit mode: change this saved workflow's current version."
    )

    @model_validator(mode="after")
    def _one_base(self) -> "GenerateRequest":
        if self.definition is not None and self.workflow_id is not None:
            raise ValueError("give either definition or workflow_id, not both")
        return self


async def get_generator(request: Request) -> WorkflowGenerator:
    state = request.app.state
    return generator_for(state.settings, state.llm_http, state.answer_cache)


Generator = Annotated[WorkflowGenerator, Depends(get_generator)]


@router.post("/workflows/generate", response_model=GeneratedWorkflow)
async def generate_workflow(
    body: GenerateRequest,
    user: Editor,
    session: SessionDep,
    generator: Generator,
    request: Request,
) -> GeneratedWorkflow:
    """Describe an automation, get a valid definition and an explanation to check before
    saving (nothing is saved). With `definition` or `workflow_id` the prompt is a change
    to make, answered with the changed definition, a summary and a JSON Patch."""
    context = await user_context(session, user)
    base = body.definition
    if body.workflow_id is not None:
        workflow = await crud.get_workflow(session, user, body.workflow_id)
        base = (await crud.get_version(session, workflow, workflow.current_version)).definition
    if base is None:
        answer = await generator.generate(body.prompt, context)
    else:
        answer = await generator.edit(base, body.prompt, context)
    action = "workflow.generate" if base is None else "workflow.generate_edit"
    _audit(session, request, user, action, answer)
    await session.commit()
    return answer


@router.post("/runs/{run_id}/explain", response_model=GeneratedWorkflow)
async def explain_failure(
    run_id: uuid.UUID,
    user: Editor,
    session: SessionDep,
    generator: Generator,
    request: Request,
) -> GeneratedWorkflow:
    """Why a failed run failed, read by the model from what the run recorded, with a fix
    proposed as a changed definition and a JSON Patch against the version that ran."""
    run = await get_run(session, user, run_id)
    if run.status != "failed":
        raise Conflict(f"only failed runs can be explained; this one is {run.status}")
    workflow = await crud.get_workflow(session, user, run.workflow_id)
    definition = (await crud.get_version(session, workflow, run.version)).definition
    tasks = [task.model_dump() for task in await tasks_of(session, run)]
    report = run_report(run.model_dump(), tasks)
    answer = await generator.fix(definition, report, await user_context(session, user))
    _audit(session, request, user, "run.explain", answer, target=f"run:{run.id}")
    await session.commit()
    return answer


async def user_context(session: AsyncSession, user: User) -> UserContext:
    """The caller's own credential names and kinds and recent workflows (admins included:
    the model is told about what the caller owns, not about everyone's)."""
    credentials = await session.exec(
        select(Credential.name, Credential.kind)
        .where(Credential.owner_id == user.id)
        .order_by(Credential.name)
        .limit(CONTEXT_CREDENTIALS)
    )
    workflows = await session.exec(
        select(Workflow.id, Workflow.name, Workflow.description, WorkflowVersion.definition)
        .join(
            WorkflowVersion,
            (col(WorkflowVersion.workflow_id) == Workflow.id)
            & (col(WorkflowVersion.version) == Workflow.current_version),
        )
        .where(Workflow.owner_id == user.id)
        .order_by(col(Workflow.updated_at).desc())
        .limit(CONTEXT_WORKFLOWS)
    )
    return UserContext(
        credentials=[KnownCredential(name, kind) for name, kind in credentials],
        workflows=[
            KnownWorkflow(str(id_), name, description, sorted(_inputs_of(definition)))
            for id_, name, description, definition in workflows
        ],
    )


def _inputs_of(definition: Any) -> list[str]:
    inputs = definition.get("inputs") if isinstance(definition, dict) else None
    return list(inputs) if isinstance(inputs, dict) else []


def _audit(
    session: AsyncSession,
    request: Request,
    user: User,
    action: str,
    answer: GeneratedWorkflow,
    target: str = "",
) -> None:
    audit.record(
        session,
        request,
        user.id,
        action,
        target,
        model=answer.model,
        attempts=answer.attempts,
        cached=answer.cached,
    )
