"""Validation of workflow definitions (DESIGN.md §3, §4): every kind of bad definition is
rejected with an issue naming the node and the field, good ones are accepted."""

import json
from pathlib import Path
from typing import Any

import pytest

from workflows.catalog import NODE_TYPES
from workflows.cron import check_cron
from workflows.definition import (
    MAX_NODES,
    Definition,
    DefinitionError,
    Issue,
    find_cycle,
    find_issues,
    json_schema,
    resolve_inputs,
    upstream_map,
    validate_definition,
)
from workflows.durations import parse_duration

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.json"))


def definition(*nodes: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"schema": "flowpilot/v1", "name": "test", "nodes": list(nodes), **fields}


def http(node_id: str, **fields: Any) -> dict[str, Any]:
    node = {"id": node_id, "type": "http.request", "params": {"url": "https://example.com"}}
    return {**node, **fields}


def transform(node_id: str, value: Any = "ok", **fields: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "transform", "params": {"value": value}, **fields}


def foreach(node_id: str, body: Any, **params: Any) -> dict[str, Any]:
    return {
        "id": node_id,
        "type": "foreach",
        "params": {"items": "{{ inputs.list }}", "nodes": body, **params},
    }


def issues_of(raw: dict[str, Any]) -> list[Issue]:
    with pytest.raises(DefinitionError) as caught:
        validate_definition(raw)
    assert caught.value.issues, "a DefinitionError must list its issues"
    return caught.value.issues


def only_issue(raw: dict[str, Any], node: str | None, field: str) -> Issue:
    """The definition's single issue, which must be at `node` and `field`."""
    issues = issues_of(raw)
    assert [(issue.node, issue.field) for issue in issues] == [(node, field)], issues
    return issues[0]


def assert_valid(raw: dict[str, Any]) -> Definition:
    try:
        return validate_definition(raw)
    except DefinitionError as error:
        pytest.fail(f"expected a valid definition, got: {error.issues}")


# --- good definitions ------------------------------------------------------------------


def test_minimal_definition_is_accepted_with_defaults_filled_in() -> None:
    checked = assert_valid({"name": "one node", "nodes": [transform("only")]})

    assert checked.schema_ == "flowpilot/v1"
    assert checked.trigger.type == "manual"
    assert checked.nodes[0].on_error == "fail"
    assert checked.defaults.retry.max_attempts >= 1


def test_full_definition_in_the_design_format_is_accepted() -> None:
    raw = definition(
        http(
            "issues",
            params={"method": "GET", "url": "https://api.github.com/repos/{{ inputs.repo }}"},
            timeout="30s",
            retry={"max_attempts": 5, "initial_interval": "500ms", "max_interval": "1h30m"},
        ),
        transform("summary", "{{ nodes.issues.output.body | length }}", needs=["issues"]),
        transform(
            "post",
            "{{ nodes.summary.output }}",
            needs=["summary"],
            when="{{ nodes.summary.status == 'succeeded' }}",
            on_error="continue",
            join="any",
            position={"x": 10, "y": 20},
        ),
        inputs={"repo": {"type": "string", "default": "acme/api"}},
        trigger={"type": "schedule", "cron": "0 9 * * 1-5", "timezone": "Europe/Paris"},
        defaults={"timeout": "60s", "retry": {"max_attempts": 3}},
        output="{{ nodes.summary.output }}",
    )

    checked = assert_valid(raw)

    assert [node.id for node in checked.nodes] == ["issues", "summary", "post"]
    assert checked.trigger.timezone == "Europe/Paris"


def test_definition_object_is_accepted_as_is() -> None:
    checked = assert_valid(definition(transform("a")))

    assert validate_definition(checked) is checked
    assert find_issues(checked) == []


def test_a_definition_that_is_not_an_object_is_rejected() -> None:
    issue = only_issue(["not", "an", "object"], None, "")  # type: ignore[arg-type]

    assert "JSON object" in issue.message


def test_missing_name_and_empty_node_list_are_rejected() -> None:
    issues = issues_of({"schema": "flowpilot/v1", "nodes": []})

    assert {(issue.node, issue.field) for issue in issues} == {(None, "name"), (None, "nodes")}
    assert "required" in next(issue for issue in issues if issue.field == "name").message


# --- ids -------------------------------------------------------------------------------


def test_duplicate_node_id_is_rejected() -> None:
    issue = only_issue(definition(transform("a"), transform("b"), transform("a")), "a", "id")

    assert "duplicate" in issue.message


@pytest.mark.parametrize("bad_id", ["Bad-Id", "1abc", "has space", ""])
def test_malformed_node_id_is_rejected_with_the_rule(bad_id: str) -> None:
    issue = only_issue(definition(transform(bad_id), transform("fine")), bad_id, "id")

    assert repr(bad_id) in issue.message
    assert "lowercase letters" in issue.message


def test_node_without_id_is_named_by_its_position() -> None:
    issue = only_issue(definition(transform("a"), {"type": "transform"}), "#1", "id")

    assert "required" in issue.message


def test_id_used_both_in_nodes_and_on_failure_is_rejected() -> None:
    raw = definition(transform("a"), transform("notify"), on_failure=[transform("notify")])

    issue = only_issue(raw, "notify", "id")

    assert "already the id of a node in `nodes`" in issue.message


# --- needs and cycles ------------------------------------------------------------------


def test_a_credential_on_a_node_type_that_takes_none_is_rejected() -> None:
    issue = only_issue(definition(transform("t", credential="my-token")), "t", "credential")
    assert "take no credential" in issue.message
    assert_valid(definition(http("h", credential="my-token")))


def test_needs_naming_an_unknown_node_is_rejected() -> None:
    issue = only_issue(definition(transform("a"), transform("b", needs=["ghost"])), "b", "needs")

    assert issue.message == "unknown node 'ghost'"


def test_node_needing_itself_is_rejected() -> None:
    issue = only_issue(definition(transform("a", needs=["a"])), "a", "needs")

    assert "cannot need itself" in issue.message


def test_cycle_is_rejected_and_named_in_the_order_nodes_run() -> None:
    # a → b → c → a: b waits for a, c waits for b, a waits for c.
    raw = definition(
        transform("a", needs=["c"]),
        transform("b", needs=["a"]),
        transform("c", needs=["b"]),
        transform("free"),
    )

    issues = issues_of(raw)

    assert len(issues) == 1, issues
    assert issues[0].field == "needs"
    assert issues[0].node in {"a", "b", "c"}
    rotations = ["a → b → c → a", "b → c → a → b", "c → a → b → c"]
    assert any(rotation in issues[0].message for rotation in rotations), issues[0].message


def test_cycle_does_not_hide_other_problems_of_its_nodes() -> None:
    raw = definition(
        transform("a", needs=["b"]),
        {"id": "b", "type": "nope", "needs": ["a"]},
    )

    places = {(issue.node, issue.field) for issue in issues_of(raw)}

    assert ("b", "type") in places
    assert any(field == "needs" for _, field in places)


def test_on_failure_node_cannot_need_a_main_node_but_may_read_it() -> None:
    raw = definition(transform("a"), on_failure=[transform("alert", needs=["a"])])
    issue = only_issue(raw, "alert", "needs")
    assert "'a' is in `nodes`" in issue.message

    assert_valid(
        definition(transform("a"), on_failure=[transform("alert", "{{ nodes.a.status }}")])
    )


def test_the_longest_chain_validates_without_hitting_the_recursion_limit() -> None:
    """As many nodes as a definition may hold, each needing the one before: as deep as
    Python's default recursion limit, so a recursive check would fail here."""
    last = MAX_NODES - 1
    chain = [transform("n0")] + [
        transform(f"n{i}", needs=[f"n{i - 1}"]) for i in range(1, last + 1)
    ]
    chain[-1]["params"]["value"] = "{{ nodes.n0.output }}"

    checked = assert_valid(definition(*chain))

    assert "n0" in upstream_map(checked.nodes)[f"n{last}"]


def test_find_cycle_and_upstream_map() -> None:
    nodes = assert_valid(
        definition(transform("a"), transform("b", needs=["a"]), transform("c", needs=["b"]))
    ).nodes
    assert find_cycle(nodes) is None
    assert upstream_map(nodes) == {"a": set(), "b": {"a"}, "c": {"a", "b"}}

    cyclic = Definition.model_validate(
        definition(transform("a", needs=["b"]), transform("b", needs=["a"]))
    ).nodes
    assert find_cycle(cyclic) in (["a", "b", "a"], ["b", "a", "b"])
    assert upstream_map(cyclic) == {"a": {"b"}, "b": {"a"}}


# --- node types and params ---------------------------------------------------------------


def test_unknown_node_type_is_rejected_with_a_suggestion() -> None:
    raw = definition({"id": "a", "type": "http.reqest", "params": {"url": "https://x.io"}})

    issue = only_issue(raw, "a", "type")

    assert "unknown node type 'http.reqest'" in issue.message
    assert "did you mean 'http.request'" in issue.message


def test_http_request_without_url_is_rejected() -> None:
    issue = only_issue(definition(http("fetch", params={"method": "GET"})), "fetch", "params.url")

    assert "required" in issue.message


def test_http_method_outside_the_schema_is_rejected() -> None:
    raw = definition(http("fetch", params={"method": "FETCH", "url": "https://x.io"}))

    issue = only_issue(raw, "fetch", "params.method")

    assert "'GET'" in issue.message


def test_unknown_param_is_rejected_with_the_accepted_ones() -> None:
    raw = definition(http("fetch", params={"url": "https://x.io", "verb": "GET"}))

    issue = only_issue(raw, "fetch", "params.verb")

    assert "unknown field 'verb'" in issue.message
    assert "url" in issue.message and "method" in issue.message


def test_wrong_type_inside_a_union_param_is_one_issue_at_the_value() -> None:
    raw = definition(http("fetch", params={"url": "https://x.io", "query": {"page": [1]}}))

    issue = only_issue(raw, "fetch", "params.query.page")

    assert "string" in issue.message and "integer" in issue.message


def test_templates_in_typed_params_are_accepted_at_save() -> None:
    raw = definition(
        http("fetch", params={"url": "{{ inputs.url }}", "follow_redirects": "{{ inputs.f }}"}),
        foreach(
            "each",
            [transform("double", "{{ item * 2 }}")],
            concurrency="{{ inputs.n }}",
            batch_size="{{ inputs.n }}",
        ),
        {"id": "wait", "type": "delay", "params": {"duration": "{{ inputs.wait }}"}},
    )

    assert_valid(raw)


def test_a_list_holding_a_template_is_checked_after_rendering() -> None:
    """An address list is validated as a whole: one template in it defers the whole check."""
    mail = {
        "id": "mail",
        "type": "email.send",
        "credential": "smtp",
        "params": {"to": ["ops@example.com", "{{ inputs.email }}"], "subject": "s", "text": "t"},
    }

    assert_valid(definition(mail, inputs={"email": {"type": "string"}}))


def test_unknown_field_on_a_node_is_rejected() -> None:
    issue = only_issue(definition(transform("a", timout="5s")), "a", "timout")

    assert "unknown field 'timout'" in issue.message
    assert "timeout" in issue.message


# --- template syntax -------------------------------------------------------------------


def test_template_syntax_error_in_a_header_names_the_header() -> None:
    params = {"url": "https://x.io", "headers": {"X-Token": "{{ inputs.token "}}

    issue = only_issue(definition(http("fetch", params=params)), "fetch", "params.headers.X-Token")

    assert issue.message.startswith("template syntax error")


def test_template_syntax_error_in_a_list_names_the_index() -> None:
    params = {
        "method": "POST",
        "url": "https://x.io",
        "json": {"items": ["a", "{{ inputs.b }}", "{% if %}"]},
    }

    issue = only_issue(definition(http("fetch", params=params)), "fetch", "params.json.items[2]")

    assert issue.message.startswith("template syntax error")


def test_template_using_an_unknown_filter_is_rejected() -> None:
    issue = only_issue(definition(transform("a", "{{ inputs.x | nope }}")), "a", "params.value")

    assert "nope" in issue.message


def test_template_syntax_error_in_when_is_rejected() -> None:
    issue = only_issue(definition(transform("a", when="{{ inputs.go == }}")), "a", "when")

    assert issue.message.startswith("template syntax error")


def test_template_syntax_error_in_the_output_is_rejected() -> None:
    issue = only_issue(definition(transform("a"), output="{{ nodes.a.output "), None, "output")

    assert issue.message.startswith("template syntax error")


# --- template references -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("nodes", "reader", "referenced"),
    [
        pytest.param([transform("a")], "b", "a", id="sibling"),
        pytest.param([transform("a", needs=["b"])], "b", "a", id="downstream"),
        pytest.param([transform("a")], "b", "ghost", id="nonexistent"),
        pytest.param([transform("a")], "b", "b", id="itself"),
    ],
)
def test_template_reading_a_node_that_is_not_upstream_is_rejected(
    nodes: list[dict[str, Any]], reader: str, referenced: str
) -> None:
    raw = definition(*nodes, transform(reader, {"x": f"{{{{ nodes.{referenced}.output }}}}"}))

    issue = only_issue(raw, reader, "params.value.x")

    assert f"refers to node '{referenced}', which is not upstream" in issue.message
    assert "needs" in issue.message


def test_template_reading_a_node_by_subscript_is_checked_too() -> None:
    raw = definition(transform("a"), transform("b", "{{ nodes['a'].output }}"))

    issue = only_issue(raw, "b", "params.value")

    assert "refers to node 'a'" in issue.message


def test_template_reading_a_transitive_upstream_node_is_accepted() -> None:
    assert_valid(
        definition(
            transform("a"),
            transform("b", needs=["a"]),
            transform("c", "{{ nodes.a.output }} {{ nodes.b.status }}", needs=["b"]),
            output="{{ nodes.c.output }}",
        )
    )


def test_when_reading_a_node_that_is_not_upstream_is_rejected() -> None:
    raw = definition(transform("a"), transform("b", when="{{ nodes.a.output }}"))

    issue = only_issue(raw, "b", "when")

    assert "refers to node 'a'" in issue.message


def test_unknown_top_level_name_in_a_template_is_rejected() -> None:
    issue = only_issue(definition(transform("a", "{{ secrets.x }}")), "a", "params.value")

    assert "unknown name 'secrets'" in issue.message
    assert "inputs" in issue.message and "nodes" in issue.message


@pytest.mark.parametrize("name", ["item", "index"])
def test_item_and_index_are_rejected_outside_a_foreach_body(name: str) -> None:
    issue = only_issue(definition(transform("a", f"{{{{ {name} }}}}")), "a", "params.value")

    assert f"unknown name '{name}'" in issue.message


def test_item_and_index_are_accepted_inside_a_foreach_body_and_output() -> None:
    body = [transform("row", {"n": "{{ index }}", "v": "{{ item.value }}"})]

    assert_valid(definition(foreach("each", body, output="{{ index }}: {{ item }}")))


def test_item_is_rejected_in_the_foreach_items_param() -> None:
    raw = definition(foreach("each", [transform("row")]))
    raw["nodes"][0]["params"]["items"] = "{{ item }}"

    issue = only_issue(raw, "each", "params.items")

    assert "unknown name 'item'" in issue.message


def test_error_is_accepted_only_in_on_failure_nodes() -> None:
    value = "{{ error.message }} in {{ nodes.a.status }}"

    raw = definition(transform("a"), transform("report", value, needs=["a"]))
    issue = only_issue(raw, "report", "params.value")
    assert "unknown name 'error'" in issue.message

    assert_valid(definition(transform("a"), on_failure=[transform("report", value)]))


# --- durations -----------------------------------------------------------------------------


def test_node_timeout_in_words_is_rejected() -> None:
    issue = only_issue(definition(transform("a", timeout="5 minutes")), "a", "timeout")

    assert "'5 minutes' is not a duration" in issue.message
    assert "'30s'" in issue.message


def test_bad_retry_interval_is_rejected() -> None:
    raw = definition(transform("a", retry={"initial_interval": "x"}))

    issue = only_issue(raw, "a", "retry.initial_interval")

    assert "'x' is not a duration" in issue.message


def test_zero_delay_is_rejected() -> None:
    raw = definition({"id": "wait", "type": "delay", "params": {"duration": "0s"}})

    issue = only_issue(raw, "wait", "params.duration")

    assert "longer than zero" in issue.message


def test_bad_default_timeout_is_rejected() -> None:
    issue = only_issue(
        definition(transform("a"), defaults={"timeout": "1.5h"}), None, "defaults.timeout"
    )

    assert "not a duration" in issue.message


def test_good_durations_are_accepted() -> None:
    assert_valid(
        definition(
            transform("a", timeout="1h30m", retry={"initial_interval": "500ms"}),
            {"id": "wait", "type": "delay", "params": {"duration": "1d"}},
            defaults={"timeout": "30s", "retry": {"max_interval": "2h"}},
        )
    )


@pytest.mark.parametrize(
    ("text", "seconds"), [("500ms", 0.5), ("30s", 30), ("5m", 300), ("1h30m", 5400), ("1d", 86400)]
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "5", "5 minutes", "1.5h", "-1s", "0ms", "9" * 30 + "d"])
def test_parse_duration_rejects_with_a_value_error(text: str) -> None:
    with pytest.raises(ValueError, match=repr(text)):
        parse_duration(text)


# --- cron and time zones ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cron", "words"),
    [
        ("61 * * * *", "minute field: 61 is outside 0-59"),
        ("* * *", "has 3 fields; a cron expression has 5"),
        ("*/0 * * * *", "step must be at least 1"),
        ("0 25 * * *", "hour field"),
        ("0 9 * * fri-mon", "runs backwards"),
        ("@every soon", "'soon' is not a duration"),
    ],
)
def test_bad_cron_is_rejected_on_the_trigger(cron: str, words: str) -> None:
    raw = definition(transform("a"), trigger={"type": "schedule", "cron": cron})

    issue = only_issue(raw, None, "trigger.cron")

    assert words in issue.message


def test_unknown_time_zone_is_rejected() -> None:
    trigger = {"type": "schedule", "cron": "@daily", "timezone": "Mars/Olympus"}

    issue = only_issue(definition(transform("a"), trigger=trigger), None, "trigger.timezone")

    assert "unknown time zone 'Mars/Olympus'" in issue.message


def test_schedule_without_cron_is_rejected() -> None:
    issue = only_issue(
        definition(transform("a"), trigger={"type": "schedule"}), None, "trigger.cron"
    )

    assert "required" in issue.message


@pytest.mark.parametrize(
    "trigger",
    [
        {"type": "schedule", "cron": "0 9 * * 1-5", "timezone": "Europe/Paris"},
        {"type": "schedule", "cron": "@daily"},
        {"type": "schedule", "cron": "*/15 8-18 * jan-jun mon,wed,fri"},
        {"type": "schedule", "cron": "@every 90m"},
        {"type": "webhook"},
        {"type": "manual"},
    ],
)
def test_good_triggers_are_accepted(trigger: dict[str, Any]) -> None:
    assert_valid(definition(transform("a"), trigger=trigger))


def test_check_cron_accepts_macros_and_names() -> None:
    for cron in ["@hourly", "@weekly", "0 0 1 * *", "0 9 * * MON-FRI", "5,10-20/5 * * * 7"]:
        check_cron(cron)


# --- foreach bodies ------------------------------------------------------------------------


def test_unknown_need_inside_a_body_is_reported_on_the_foreach() -> None:
    raw = definition(foreach("each", [transform("first"), transform("second", needs=["ghost"])]))

    issue = only_issue(raw, "each", "params.nodes[second].needs")

    assert "unknown node 'ghost'" in issue.message


def test_structural_error_inside_a_body_names_the_inner_node() -> None:
    raw = definition(foreach("each", [transform("slow", timeout="ages")]))

    issue = only_issue(raw, "each", "params.nodes[slow].timeout")

    assert "'ages' is not a duration" in issue.message


def test_bad_params_and_templates_inside_a_body_are_reported_on_the_foreach() -> None:
    body = [
        http("fetch", params={"url": "https://x.io", "method": "FETCH"}),
        transform("bad", "{{ item.x "),
    ]

    issues = issues_of(definition(foreach("each", body)))

    assert {(issue.node, issue.field) for issue in issues} == {
        ("each", "params.nodes[fetch].params.method"),
        ("each", "params.nodes[bad].params.value"),
    }


def test_approval_inside_a_foreach_is_refused() -> None:
    raw = definition(foreach("each", [{"id": "ok", "type": "approval", "params": {}}]))

    issue = only_issue(raw, "each", "params.nodes[ok].type")

    assert "approval" in issue.message and "foreach" in issue.message


def test_body_reading_an_upstream_outer_node_is_accepted() -> None:
    each = foreach("each", [transform("row", "{{ nodes.config.output }} {{ item }}")])
    each["needs"] = ["config"]

    assert_valid(definition(transform("config"), each, transform("after", needs=["each"])))


def test_body_reading_an_outer_node_that_is_not_upstream_is_rejected() -> None:
    each = foreach("each", [transform("row", "{{ nodes.sibling.output }}")])

    issue = only_issue(
        definition(transform("sibling"), each), "each", "params.nodes[row].params.value"
    )

    assert "refers to node 'sibling'" in issue.message


def test_foreach_concurrency_reading_a_node_that_is_not_upstream_is_rejected() -> None:
    each = foreach("each", [transform("row")], concurrency="{{ nodes.sibling.output }}")

    issue = only_issue(definition(transform("sibling"), each), "each", "params.concurrency")

    assert "refers to node 'sibling'" in issue.message


def test_body_node_reusing_an_upstream_id_is_rejected() -> None:
    each = foreach("each", [transform("config")])
    each["needs"] = ["config"]

    issue = only_issue(definition(transform("config"), each), "each", "params.nodes[config].id")

    assert "already the id of a node" in issue.message


@pytest.mark.parametrize(
    ("body", "field"),
    [("{{ inputs.body }}", "params.nodes"), (["{{ inputs.node }}"], "params.nodes[0]")],
)
def test_foreach_body_written_as_a_template_is_rejected(body: Any, field: str) -> None:
    issue = only_issue(definition(foreach("each", body)), "each", field)

    assert "not a template" in issue.message


def test_foreach_without_body_nodes_is_rejected() -> None:
    issue = only_issue(definition(foreach("each", [])), "each", "params.nodes")

    assert "at least 1" in issue.message


# --- many problems at once -----------------------------------------------------------------


def test_every_problem_is_reported_at_once() -> None:
    raw = definition(
        transform("a"),
        transform("a"),
        {"id": "b", "type": "teleport"},
        transform("c", "{{ nodes.b.output }}", needs=["ghost"]),
        http("d", params={"method": "FETCH"}, timeout="soon"),
        {"id": "Bad-Id", "type": "transform", "params": {"value": "{{ secrets.key }}"}},
        trigger={"type": "schedule", "cron": "61 * * * *"},
    )

    places = {(issue.node, issue.field) for issue in issues_of(raw)}

    assert places == {
        ("a", "id"),
        ("b", "type"),
        ("c", "needs"),
        ("c", "params.value"),
        ("d", "params.url"),
        ("d", "params.method"),
        ("d", "timeout"),
        ("Bad-Id", "id"),
        ("Bad-Id", "params.value"),
        (None, "trigger.cron"),
    }


def test_definition_error_reads_well() -> None:
    with pytest.raises(DefinitionError) as caught:
        validate_definition(definition(transform("a", needs=["ghost"])))

    assert str(caught.value) == "node 'a', field 'needs': unknown node 'ghost'"
    assert isinstance(caught.value, ValueError)


# --- JSON Schema and catalog -----------------------------------------------------------------


def test_json_schema_describes_the_definition_format() -> None:
    schema = json_schema()

    assert schema["type"] == "object"
    assert {"schema", "name", "nodes", "inputs", "trigger", "on_failure"} <= set(
        schema["properties"]
    )
    assert "nodes" in schema["required"] and "name" in schema["required"]
    assert "Node" in json.dumps(schema)
    assert json.loads(json.dumps(schema)) == schema


@pytest.mark.parametrize("node_type", sorted(NODE_TYPES))
def test_catalog_entry_params_schema_is_json(node_type: str) -> None:
    entry = NODE_TYPES[node_type]
    schema = entry.params_schema()

    assert entry.type == node_type and entry.title and entry.description
    assert schema["type"] == "object"
    assert json.loads(json.dumps(schema)) == schema


def test_http_request_params_schema_uses_the_json_alias() -> None:
    properties = NODE_TYPES["http.request"].params_schema()["properties"]

    assert "json" in properties and "json_body" not in properties
    assert "url" in NODE_TYPES["http.request"].params_schema()["required"]


# --- run inputs ------------------------------------------------------------------------------


def with_inputs(**inputs: dict[str, Any]) -> Definition:
    return validate_definition(definition(transform("a"), inputs=inputs))


def test_resolve_inputs_applies_defaults() -> None:
    checked = with_inputs(
        repo={"type": "string", "default": "acme/api"},
        limit={"type": "integer", "default": 10},
        tag={"type": "string", "required": False},
    )

    assert resolve_inputs(checked, {"limit": 3}) == {"repo": "acme/api", "limit": 3, "tag": None}


def test_resolve_inputs_rejects_a_missing_required_input() -> None:
    checked = with_inputs(repo={"type": "string"})

    with pytest.raises(DefinitionError) as caught:
        resolve_inputs(checked, {})

    [issue] = caught.value.issues
    assert (issue.node, issue.field) == (None, "inputs.repo")
    assert "required" in issue.message


@pytest.mark.parametrize(
    ("spec_type", "value", "got"),
    [
        ("integer", "3", "string"),
        ("integer", True, "boolean"),
        ("integer", 1.5, "number"),
        ("number", None, "null"),
        ("boolean", 1, "integer"),
        ("array", {"a": 1}, "object"),
        ("object", [1], "array"),
    ],
)
def test_resolve_inputs_rejects_a_wrong_type(spec_type: str, value: Any, got: str) -> None:
    checked = with_inputs(x={"type": spec_type})

    with pytest.raises(DefinitionError) as caught:
        resolve_inputs(checked, {"x": value})

    [issue] = caught.value.issues
    assert issue.field == "inputs.x"
    assert issue.message.startswith("must be a") and issue.message.endswith(
        f" {spec_type}, got {got}"
    )


def test_resolve_inputs_accepts_matching_types() -> None:
    checked = with_inputs(
        n={"type": "number"}, i={"type": "integer"}, b={"type": "boolean"}, o={"type": "object"}
    )

    given = {"n": 2, "i": 3, "b": False, "o": {}}
    assert resolve_inputs(checked, given) == given


def test_resolve_inputs_rejects_an_undeclared_input() -> None:
    checked = with_inputs(repo={"type": "string", "default": "acme/api"})

    with pytest.raises(DefinitionError) as caught:
        resolve_inputs(checked, {"rep": "typo/api"})

    [issue] = caught.value.issues
    assert issue.field == "inputs.rep"
    assert "not an input of this workflow" in issue.message and "repo" in issue.message


def test_input_default_of_the_wrong_type_is_rejected_at_save() -> None:
    raw = definition(transform("a"), inputs={"limit": {"type": "integer", "default": "ten"}})

    issue = only_issue(raw, None, "inputs.limit.default")

    assert issue.message == "must be an integer"


def test_unknown_input_type_is_rejected() -> None:
    raw = definition(transform("a"), inputs={"limit": {"type": "int"}})

    issue = only_issue(raw, None, "inputs.limit.type")

    assert "'integer'" in issue.message


# --- examples ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", EXAMPLES, ids=[path.name for path in EXAMPLES])
def test_example_definition_is_valid(path: Path) -> None:
    assert_valid(json.loads(path.read_text()))


def test_nul_characters_are_refused_with_their_field() -> None:
    raw = {
        "name": "a\x00b",
        "nodes": [{"id": "a", "type": "transform", "params": {"value": "x\x00"}}],
    }
    with pytest.raises(DefinitionError) as raised:
        validate_definition(raw)
    fields = {issue.field for issue in raised.value.issues}
    assert {"name", "nodes[0].params.value"} <= fields
