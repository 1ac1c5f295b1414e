"""The workflow definition format (flowpilot/v1): models, validation, JSON Schema.

`Definition.model_validate` checks structure only; `validate_definition` adds the checks
that need the whole graph (ids, edges, cycles, node types, params, templates) and raises
one `DefinitionError` listing every problem, each naming its node and field.
"""

import difflib
import json
from collections.abc import Iterable, Iterator
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from workflows import templates
from workflows.catalog import NODE_TYPES, NodeType
from workflows.cron import check_cron
from workflows.durations import Duration

NODE_ID_PATTERN = r"^[a-z][a-z0-9_]*$"
SCHEMA_VERSION = "flowpilot/v1"
MAX_DEFINITION_BYTES = 512 * 1024
"""A definition's size as compact JSON: what an editor, the generator and every run's start
carry, far beyond any workflow drawn or described by hand."""
MAX_RUN_DATA_BYTES = 1024 * 1024
"""What a run may be given to start with (its inputs, a webhook's delivery, a test step's
sample outputs, a dry run's pinned ones), as compact JSON: inputs are kept with the run and
come with it in every run list. Larger data is better fetched by a node from its URL."""
MAX_NODES = 1000
"""Nodes in one list: the graph, `on_failure`, a `foreach` body."""
_SCOPE_NAMES = {"inputs", "nodes", "run"}


class Issue(BaseModel):
    """One validation problem: which node (None for the workflow itself), which field."""

    node: str | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"node '{self.node}', " if self.node else ""
        return f"{where}field '{self.field}': {self.message}"


class DefinitionError(ValueError):
    def __init__(self, issues: list[Issue]) -> None:
        super().__init__("; ".join(str(issue) for issue in issues))
        self.issues = issues


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class RetrySpec(_Model):
    max_attempts: int = Field(default=3, ge=1, le=100)
    initial_interval: Duration = "1s"
    backoff: float = Field(default=2.0, ge=1.0, le=10.0)
    max_interval: Duration = "1m"
    non_retryable_errors: list[str] = Field(
        default_factory=list, description="Error types (e.g. 'HttpStatusError') never retried."
    )


RunPriority = Literal["high", "normal", "low"]


class Defaults(_Model):
    timeout: Duration = "5m"
    retry: RetrySpec = Field(default_factory=RetrySpec)
    max_parallel: int = Field(default=10, ge=1, le=1000)
    priority: RunPriority = Field(
        default="normal",
        description="Runs' priority when workers are saturated: a high run's nodes are "
        "picked before those of normal and low runs. A run may be started with another.",
    )


class Position(_Model):
    x: float
    y: float


class Node(_Model):
    id: Annotated[str, Field(pattern=NODE_ID_PATTERN, max_length=64)]
    type: str
    name: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    needs: list[str] = Field(default_factory=list)
    when: str | None = Field(default=None, description="Template; falsy → node skipped.")
    credential: str | None = None
    retry: RetrySpec | None = None
    timeout: Duration | None = Field(default=None, description="Start-to-close timeout.")
    on_error: Literal["fail", "continue"] = "fail"
    join: Literal["all", "any"] = "all"
    mode: Literal["activity", "local"] = "activity"
    position: Position | None = None


class InputSpec(_Model):
    type: Literal["string", "number", "integer", "boolean", "object", "array"] = "string"
    default: Any = None
    required: bool | None = Field(
        default=None, description="Defaults to true when there is no default."
    )
    description: str = ""

    @property
    def is_required(self) -> bool:
        return self.required if self.required is not None else self.default is None


class ManualTrigger(_Model):
    type: Literal["manual"] = "manual"


class ScheduleTrigger(_Model):
    type: Literal["schedule"]
    cron: str
    timezone: str = "UTC"

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, cron: str) -> str:
        check_cron(cron)
        return cron

    @field_validator("timezone")
    @classmethod
    def _valid_timezone(cls, timezone: str) -> str:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {timezone!r}") from None
        return timezone


class WebhookTrigger(_Model):
    type: Literal["webhook"]
    respond: Literal["accepted", "output"] = Field(
        default="accepted",
        description="'accepted' answers at once with the run id; 'output' waits for the "
        "run and answers with its output (up to `timeout`).",
    )
    timeout: Duration = "30s"


Trigger = Annotated[ManualTrigger | ScheduleTrigger | WebhookTrigger, Field(discriminator="type")]


class Definition(_Model):
    schema_: Literal["flowpilot/v1"] = Field(default=SCHEMA_VERSION, alias="schema")
    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    inputs: dict[str, InputSpec] = Field(default_factory=dict)
    trigger: Trigger = Field(default_factory=ManualTrigger)
    defaults: Defaults = Field(default_factory=Defaults)
    nodes: list[Node] = Field(min_length=1, max_length=MAX_NODES)
    on_failure: list[Node] = Field(
        default_factory=list,
        max_length=MAX_NODES,
        description="Nodes run after the workflow fails, with `error` in scope.",
    )
    output: Any = Field(default=None, description="The run's result; templates are rendered.")


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the definition format, for editors and the NL generator."""
    return Definition.model_json_schema(by_alias=True)


def json_size(value: Any) -> int:
    """Bytes of `value` as compact JSON, the way it travels to Temporal and the database."""
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str).encode())


def validate_definition(raw: dict[str, Any] | Definition) -> Definition:
    """Parse and fully check a definition; raise DefinitionError listing every problem."""
    if isinstance(raw, dict) and (size := json_size(raw)) > MAX_DEFINITION_BYTES:
        limit = MAX_DEFINITION_BYTES // 1024
        message = f"the definition is {size / 1024:.0f} KB; at most {limit} KB"
        raise DefinitionError([Issue(node=None, field="", message=message)])
    definition, issues = _parse(raw)
    if definition is not None:
        issues += _uncovered(find_issues(definition), issues)
    if isinstance(raw, dict):
        issues += _nul_characters(raw, "")
    if issues:
        raise DefinitionError(issues)
    assert definition is not None
    return definition


def _nul_characters(value: Any, field: str) -> list[Issue]:
    """NUL characters, which no database column (and no sane definition) can hold."""
    if isinstance(value, str) and "\x00" in value:
        return [Issue(node=None, field=field, message="contains a NUL character")]
    if isinstance(value, dict):
        found = []
        for key, inner in value.items():
            found += _nul_characters(key, field or "key")
            found += _nul_characters(inner, f"{field}.{key}" if field else str(key))
        return found
    if isinstance(value, list):
        found = []
        for index, inner in enumerate(value):
            found += _nul_characters(inner, f"{field}[{index}]")
        return found
    return []


def find_issues(definition: Definition) -> list[Issue]:
    """Every graph-level problem of a structurally valid definition."""
    main_ids = [node.id for node in definition.nodes]
    issues = list(_check_graph(definition.nodes, set(), _SCOPE_NAMES, "nodes", ""))
    issues += _check_graph(
        definition.on_failure,
        set(main_ids),
        _SCOPE_NAMES | {"error"},
        "on_failure nodes",
        "`nodes`",
    )
    issues += _check_templates_in(
        definition.output, node=None, field="output", upstream=set(main_ids), scope=_SCOPE_NAMES
    )
    for name, spec in definition.inputs.items():
        if spec.default is not None and not _has_type(spec.default, spec.type):
            issues.append(
                Issue(node=None, field=f"inputs.{name}.default", message=f"must be {_a(spec.type)}")
            )
    return issues


def _parse(raw: dict[str, Any] | Definition) -> tuple[Definition | None, list[Issue]]:
    """The definition and its structural issues.

    When the structure is broken, the definition returned is a best-effort one with the
    broken parts left out, so that the graph checks still report every other problem.
    """
    if isinstance(raw, Definition):
        return raw, []
    if not isinstance(raw, dict):
        return None, [Issue(node=None, field="", message="a definition must be a JSON object")]
    try:
        return Definition.model_validate(raw), []
    except ValidationError as error:
        return _salvage(raw, error), _issues_from_pydantic(error, raw)


def _issues_from_pydantic(error: ValidationError, raw: dict[str, Any]) -> list[Issue]:
    issues = []
    for detail in error.errors():
        location = _clean_location(detail, raw)
        node, model = None, Definition
        if _in_node_list(location):
            node = _raw_node_id(raw, str(location[0]), location[1])
            location, model = location[2:], Node
        message = _message(detail, location, model, "a node" if node else "a definition")
        issues.append(Issue(node=node, field=_dotted(location), message=message))
    return _merged(issues)


def _in_node_list(location: Any) -> bool:
    """Whether an error location points into one node of `nodes` or `on_failure`."""
    return (
        len(location) >= 2 and location[0] in ("nodes", "on_failure") and type(location[1]) is int
    )


def _raw_node_id(raw: dict[str, Any], list_name: str, index: Any) -> str:
    node = raw[list_name][index]
    if isinstance(node, dict) and isinstance(node.get("id"), str):
        return node["id"]
    return f"#{index}"


def _salvage(raw: dict[str, Any], error: ValidationError) -> Definition | None:
    """`raw` without the parts `error` found broken, or None if too much is broken."""
    broken_top: set[str] = set()
    broken_nodes: dict[tuple[str, int], set[str]] = {}
    for detail in error.errors():
        location = detail["loc"]
        if _in_node_list(location):
            field = str(location[2]) if len(location) > 2 else ""
            broken_nodes.setdefault((str(location[0]), location[1]), set()).add(field)
        else:
            broken_top.add(str(location[0]) if location else "")
    if broken_top & {"", "nodes", "on_failure"}:
        return None
    fixed = {key: value for key, value in raw.items() if key not in broken_top}
    if "name" in broken_top:
        fixed["name"] = "untitled"
    for list_name in ("nodes", "on_failure"):
        if list_name in raw:
            salvaged = [
                _salvage_node(node, broken_nodes[(list_name, index)])
                if (list_name, index) in broken_nodes
                else node
                for index, node in enumerate(raw[list_name])
            ]
            fixed[list_name] = [node for node in salvaged if node is not None]
    try:
        return Definition.model_validate(fixed)
    except ValidationError:
        return None


def _salvage_node(raw: Any, broken: set[str]) -> Node | None:
    """The node without its `broken` fields (a broken type becomes an unknown one).

    A malformed id is kept as it is, so that the graph checks can still follow the edges
    to it; the node is dropped only when it has no id at all.
    """
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str) or "" in broken:
        return None
    kept = {key: value for key, value in raw.items() if key not in broken}
    if "type" in broken:
        kept["type"] = ""
    try:
        node = Node.model_validate({**kept, "id": "salvaged"})
    except ValidationError:
        return None
    return node.model_copy(update={"id": raw["id"]})


def _uncovered(issues: Iterable[Issue], reported: list[Issue]) -> list[Issue]:
    """The `issues` not about a field (or part of one) that `reported` already flags."""

    def covered(issue: Issue) -> bool:
        return any(
            issue.node == earlier.node
            and (
                not earlier.field
                or issue.field == earlier.field
                or issue.field.startswith((f"{earlier.field}.", f"{earlier.field}["))
            )
            for earlier in reported
        )

    return [issue for issue in issues if not covered(issue)]


def _clean_location(detail: Any, value: Any) -> list[Any]:
    """Where pydantic's error is in the user's JSON, without the labels pydantic adds for
    union members (`trigger.schedule.cron` → `trigger.cron`, `query.page.int` → `query.page`).
    """
    location = list(detail["loc"])
    cleaned = []
    for position, part in enumerate(location):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value):
            value = value[part]
        elif not (position == len(location) - 1 and detail["type"] == "missing"):
            continue
        cleaned.append(part)
    return cleaned


def _message(detail: Any, location: list[Any], model: type[BaseModel], owner: str) -> str:
    """A message for one pydantic error, worded for the person who wrote the definition.

    `location` is relative to `model`, an instance of which is `owner` ("a node", …).
    """
    kind = detail["type"]
    if kind == "missing":
        return "this field is required"
    if kind == "too_short":
        count = detail["ctx"]["min_length"]
        return f"must have at least {count} item{'' if count == 1 else 's'}"
    if kind == "extra_forbidden" and len(location) == 1:
        known = ", ".join(field.alias or name for name, field in model.model_fields.items())
        return f"unknown field '{location[0]}'; {owner} has: {known}"
    if kind == "extra_forbidden":
        return f"unknown field '{location[-1]}'" if location else "unknown field"
    if kind == "string_pattern_mismatch" and detail.get("ctx", {}).get("pattern") == (
        NODE_ID_PATTERN
    ):
        return (
            f"{detail['input']!r} is not a valid node id: use lowercase letters, digits and "
            "'_', starting with a letter (e.g. 'fetch_issues')"
        )
    return str(detail["msg"]).removeprefix("Value error, ")


def _merged(issues: list[Issue]) -> list[Issue]:
    """One issue per node and field: union members each report their own error."""
    by_place: dict[tuple[str | None, str], list[str]] = {}
    for issue in issues:
        messages = by_place.setdefault((issue.node, issue.field), [])
        if issue.message not in messages:
            messages.append(issue.message)
    return [
        Issue(node=node, field=field, message=_join_alternatives(messages))
        for (node, field), messages in by_place.items()
    ]


def _join_alternatives(messages: list[str]) -> str:
    prefix = "Input should be "
    if len(messages) > 1 and all(message.startswith(prefix) for message in messages):
        options = [message.removeprefix(prefix) for message in messages]
        return f"{prefix}{', '.join(options[:-1])} or {options[-1]}"
    return "; ".join(messages)


def _dotted(location: Iterable[Any]) -> str:
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _check_graph(
    nodes: list[Node], outer_ids: set[str], scope: set[str], kind: str, outer: str
) -> Iterator[Issue]:
    """Check one DAG (the main one, on_failure, or a foreach body).

    `outer_ids` are nodes of an enclosing scope that every node here may read; messages
    call these nodes `kind` ("on_failure nodes") and the enclosing ones `outer` ("nodes").
    """
    yield from _duplicate_ids(nodes, outer_ids, outer)
    ids = {node.id for node in nodes}
    for node in nodes:
        for need in node.needs:
            if need == node.id:
                yield Issue(node=node.id, field="needs", message="a node cannot need itself")
            elif need in ids:
                continue
            elif need in outer_ids:
                yield Issue(
                    node=node.id,
                    field="needs",
                    message=f"'{need}' is in {outer}, and {kind} can only need each other; "
                    f"templates here may read '{need}' without needing it",
                )
            else:
                yield Issue(node=node.id, field="needs", message=f"unknown node '{need}'")
    cycle = find_cycle(nodes)
    if cycle:
        flow = " → ".join(reversed(cycle))
        yield Issue(
            node=cycle[0], field="needs", message=f"nodes wait for each other in a cycle: {flow}"
        )
    ancestors = upstream_map(nodes)
    for node in nodes:
        yield from _check_node(node, ancestors[node.id] | outer_ids, scope)


def _duplicate_ids(nodes: list[Node], outer_ids: set[str], outer: str) -> Iterator[Issue]:
    seen: set[str] = set()
    for node in nodes:
        if node.id in seen:
            yield Issue(node=node.id, field="id", message=f"duplicate node id '{node.id}'")
        elif node.id in outer_ids:
            yield Issue(
                node=node.id,
                field="id",
                message=f"'{node.id}' is already the id of a node in {outer}",
            )
        seen.add(node.id)


def _check_node(node: Node, upstream: set[str], scope: set[str]) -> Iterator[Issue]:
    node_type = NODE_TYPES.get(node.type)
    if node_type is None:
        known = ", ".join(sorted(NODE_TYPES))
        guess = difflib.get_close_matches(node.type, NODE_TYPES, n=1)
        hint = f"did you mean '{guess[0]}'? " if guess else ""
        message = f"unknown node type '{node.type}' ({hint}known types: {known})"
        yield Issue(node=node.id, field="type", message=message)
        return
    yield from _check_params(node, node_type.params_model)
    yield from _check_credential(node, node_type)
    if node.when is not None:
        yield from _check_template(node.when, node.id, "when", upstream, scope)
    if node.type == "foreach":
        yield from _check_foreach(node, upstream, scope)
    else:
        yield from _check_templates_in(node.params, node.id, "params", upstream, scope)


def _check_credential(node: Node, node_type: NodeType) -> Iterator[Issue]:
    kinds = " or ".join(node_type.credential_kinds)
    if node.credential is not None and not node_type.credential_kinds:
        message = f"'{node.type}' nodes take no credential"
        yield Issue(node=node.id, field="credential", message=message)
    elif node.credential is None and node_type.credential_required:
        message = f"'{node.type}' nodes need a credential (kind {kinds})"
        yield Issue(node=node.id, field="credential", message=message)


def _check_params(node: Node, model: type[BaseModel]) -> Iterator[Issue]:
    try:
        model.model_validate(node.params)
    except ValidationError as error:
        issues = []
        for detail in error.errors():
            if _is_templated(node.params, list(detail["loc"])):
                continue
            location = _clean_location(detail, node.params)
            message = _message(detail, location, model, node.type)
            issues.append(
                Issue(node=node.id, field=_dotted(["params", *location]), message=message)
            )
        yield from _merged(issues)


def _is_templated(params: Any, location: list[Any]) -> bool:
    """Whether the value at `location` is a template, sits in one, or holds one (a list of
    recipients, one of them `{{ inputs.email }}`).

    Such values are checked against the params schema after rendering, at run time.
    """
    value = params
    for part in location:
        if isinstance(value, str):
            break
        try:
            value = value[part]
        except (KeyError, IndexError, TypeError):
            return False
    return _holds_template(value)


def _holds_template(value: Any) -> bool:
    if isinstance(value, str):
        return templates.is_template(value)
    if isinstance(value, dict):
        return any(_holds_template(item) for item in value.values())
    if isinstance(value, list):
        return any(_holds_template(item) for item in value)
    return False


def _check_foreach(node: Node, upstream: set[str], scope: set[str]) -> Iterator[Issue]:
    for key, value in node.params.items():
        if key not in ("nodes", "output"):
            yield from _check_templates_in(value, node.id, f"params.{key}", upstream, scope)
    raw_body = node.params.get("nodes")
    if not isinstance(raw_body, list):
        if isinstance(raw_body, str) and templates.is_template(raw_body):
            message = "the body is never rendered: write its nodes out, not a template"
            yield Issue(node=node.id, field="params.nodes", message=message)
        return
    body: list[Node] = []
    structural: list[Issue] = []
    for index, raw in enumerate(raw_body):
        if not isinstance(raw, dict):
            if isinstance(raw, str) and templates.is_template(raw):
                message = "the body is never rendered: write this node out, not a template"
                yield Issue(node=node.id, field=f"params.nodes[{index}]", message=message)
            continue  # anything else, the params check reports
        name = raw["id"] if isinstance(raw.get("id"), str) else f"#{index}"
        try:
            body.append(Node.model_validate(raw))
        except ValidationError as error:
            for detail in error.errors():
                location = _clean_location(detail, raw)
                field = _dotted([f"params.nodes[{name}]", *location])
                message = _message(detail, location, Node, "a node")
                structural.append(Issue(node=node.id, field=field, message=message))
            broken = {str(detail["loc"][0]) if detail["loc"] else "" for detail in error.errors()}
            salvaged = _salvage_node(raw, broken)
            if salvaged is not None:
                body.append(salvaged)
    structural = _merged(structural)
    yield from structural
    for inner in body:
        if inner.type == "approval":
            yield Issue(
                node=node.id,
                field=f"params.nodes[{inner.id}].type",
                message="approval nodes cannot run inside a foreach; put the approval before it",
            )
    body_scope = scope | {"item", "index"}
    graph = [
        Issue(
            node=node.id, field=f"params.nodes[{issue.node}].{issue.field}", message=issue.message
        )
        for issue in _check_graph(
            body, upstream, body_scope, "foreach body nodes", "the foreach's upstream"
        )
    ]
    yield from _uncovered(graph, structural)
    body_ids = {inner.id for inner in body}
    yield from _check_templates_in(
        node.params.get("output"), node.id, "params.output", upstream | body_ids, body_scope
    )


def _check_templates_in(
    value: Any, node: str | None, field: str, upstream: set[str], scope: set[str]
) -> Iterator[Issue]:
    if isinstance(value, str):
        if templates.is_template(value):
            yield from _check_template(value, node, field, upstream, scope)
    elif isinstance(value, dict):
        for key, inner in value.items():
            yield from _check_templates_in(inner, node, f"{field}.{key}", upstream, scope)
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from _check_templates_in(inner, node, f"{field}[{index}]", upstream, scope)


def _check_template(
    source: str, node: str | None, field: str, upstream: set[str], scope: set[str]
) -> Iterator[Issue]:
    try:
        templates.check_syntax(source)
    except templates.TemplateError as error:
        yield Issue(node=node, field=field, message=f"template syntax error: {error}")
        return
    for name in sorted(templates.referenced_names(source) - scope):
        allowed = ", ".join(sorted(scope))
        yield Issue(
            node=node, field=field, message=f"unknown name '{name}' (available here: {allowed})"
        )
    for referenced in sorted(templates.referenced_nodes(source) - upstream):
        yield Issue(
            node=node,
            field=field,
            message=f"refers to node '{referenced}', which is not upstream of this node "
            "(add it to `needs`, directly or through another node)",
        )


def find_cycle(nodes: list[Node]) -> list[str] | None:
    """A cycle in the `needs` edges as [a, b, …, a] (a needs b …), or None.

    Self-needs are not cycles here (they are reported on their own). Iterative, so that
    long chains do not hit Python's recursion limit.
    """
    needs = {node.id: [n for n in node.needs if n != node.id] for node in nodes}
    state: dict[str, str] = {}
    for root in needs:
        if root in state:
            continue
        state[root] = "open"
        path, pending = [root], [iter(needs[root])]
        while pending:
            for need in pending[-1]:
                if need not in needs:
                    continue
                if state.get(need) == "open":
                    return [*path[path.index(need) :], need]
                if need not in state:
                    state[need] = "open"
                    path.append(need)
                    pending.append(iter(needs[need]))
                    break
            else:
                state[path.pop()] = "done"
                pending.pop()
    return None


def upstream_map(nodes: list[Node]) -> dict[str, set[str]]:
    """Each node's ancestors (transitively through `needs`), never the node itself.

    Iterative and safe on graphs with cycles or self-needs (which validation reports).
    """
    needs = {node.id: node.needs for node in nodes}
    needs = {node_id: [n for n in wanted if n in needs] for node_id, wanted in needs.items()}
    waiting = {node_id: set(wanted) for node_id, wanted in needs.items()}
    dependents: dict[str, list[str]] = {node_id: [] for node_id in needs}
    for node_id, wanted in waiting.items():
        for need in wanted:
            dependents[need].append(node_id)
    ancestors: dict[str, set[str]] = {}
    ready = [node_id for node_id, wanted in waiting.items() if not wanted]
    while ready:  # in topological order, from each node's direct needs
        node_id = ready.pop()
        ancestors[node_id] = set().union(*({need} | ancestors[need] for need in needs[node_id]))
        for dependent in dependents[node_id]:
            waiting[dependent].discard(node_id)
            if not waiting[dependent]:
                ready.append(dependent)
    for node_id in needs:  # on or behind a cycle: search
        if node_id not in ancestors:
            found: set[str] = set()
            stack = list(needs[node_id])
            while stack:
                need = stack.pop()
                if need not in found:
                    found.add(need)
                    stack.extend(needs[need])
            ancestors[node_id] = found - {node_id}
    return ancestors


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}


def _has_type(value: Any, json_type: str) -> bool:
    is_bool = isinstance(value, bool)
    return isinstance(value, _JSON_TYPES[json_type]) and (not is_bool or json_type == "boolean")


def _a(json_type: str) -> str:
    return f"{'an' if json_type[0] in 'aeiou' else 'a'} {json_type}"


def _json_type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    names = {str: "string", int: "integer", float: "number", dict: "object", list: "array"}
    return next((name for kind, name in names.items() if isinstance(value, kind)), "value")


def resolve_inputs(definition: Definition, given: dict[str, Any]) -> dict[str, Any]:
    """Apply defaults and check run inputs against the definition's `inputs`."""
    issues = []
    resolved: dict[str, Any] = {}
    declared = ", ".join(sorted(definition.inputs)) or "none"
    for name in sorted(set(given) - set(definition.inputs)):
        message = f"'{name}' is not an input of this workflow (declared inputs: {declared})"
        issues.append(Issue(node=None, field=f"inputs.{name}", message=message))
    for name, spec in definition.inputs.items():
        if name not in given:
            if spec.is_required:
                message = "this input is required and has no default"
                issues.append(Issue(node=None, field=f"inputs.{name}", message=message))
            else:
                resolved[name] = spec.default
            continue
        value = given[name]
        if not _has_type(value, spec.type):
            message = f"must be {_a(spec.type)}, got {_json_type_name(value)}"
            issues.append(Issue(node=None, field=f"inputs.{name}", message=message))
        resolved[name] = value
    if issues:
        raise DefinitionError(issues)
    return resolved
