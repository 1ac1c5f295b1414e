"""The NL evaluation set (tests/nl_cases.json) and its scorer (bench/nl_eval.py).

A live model cannot be reached here, so these prove that every case is well-formed, that
the scorer tells a workflow with the expected properties from one without, and that the
script scores a model end to end (the local OpenAI-compatible server plays the model).
"""

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import SecretStr

from api.nl import MAX_PROMPT_CHARS
from core.config import Settings
from tests.support.fake_openai import FakeOpenAI
from workflows.catalog import NODE_TYPES
from workflows.cron import check_cron

ROOT = Path(__file__).resolve().parent.parent


def load_nl_eval() -> ModuleType:
    spec = importlib.util.spec_from_file_location("nl_eval", ROOT / "bench" / "nl_eval.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


nl_eval = load_nl_eval()
CASES: list[dict[str, Any]] = nl_eval.load_cases()


def digest() -> dict[str, Any]:
    """A workflow with every property of the case weekday-issue-digest."""
    return {
        "schema": "flowpilot/v1",
        "name": "Issue digest",
        "trigger": {"type": "schedule", "cron": "0 9 * * MON-FRI", "timezone": "Europe/Paris"},
        "nodes": [
            {"id": "issues", "type": "http.request", "params": {"url": "https://x.example"}},
            {
                "id": "summary",
                "type": "llm.chat",
                "needs": ["issues"],
                "credential": "openai",
                "params": {"prompt": "{{ nodes.issues.output.body }}"},
            },
            {
                "id": "post",
                "type": "slack.post_message",
                "needs": ["summary"],
                "credential": "slack",
                "params": {"channel": "#eng", "text": "x"},
            },
        ],
    }


def test_the_case_set_is_large_and_well_formed() -> None:
    assert len(CASES) >= 30
    assert len({case["id"] for case in CASES}) == len(CASES)
    triggers = set()
    for case in CASES:
        assert 10 <= len(case["prompt"]) <= MAX_PROMPT_CHARS, case["id"]
        expect = case["expect"]
        assert set(expect) <= {
            "trigger",
            "node_types",
            "absent_types",
            "wiring",
            "on_failure_types",
            "inputs",
        }, case["id"]
        named = set(expect.get("node_types", []) + expect.get("absent_types", []))
        named |= set(expect.get("on_failure_types", []))
        named |= {node_type for pair in expect.get("wiring", []) for node_type in pair}
        assert named <= set(NODE_TYPES), (case["id"], named - set(NODE_TYPES))
        trigger = expect["trigger"]
        triggers.add(trigger["type"])
        assert trigger["type"] in {"manual", "schedule", "webhook"}
        if "cron" in trigger:
            check_cron(trigger["cron"])
            assert nl_eval.cron_fields(trigger["cron"]) is not None, case["id"]
        if "timezone" in trigger:
            ZoneInfo(trigger["timezone"])
    assert triggers == {"manual", "schedule", "webhook"}


def test_crons_compare_by_when_they_fire() -> None:
    same = nl_eval.cron_fields
    assert same("0 9 * * 1-5") == same("0 9 * * MON-FRI") == same("0 9 * * mon,tue,wed,thu,fri")
    assert same("0 0 * * 0") == same("0 0 * * 7") == same("@weekly")
    assert same("*/15 * * * *") == same("0,15,30,45 * * * *")
    assert same("0 9 * * 1-5") != same("0 9 * * *")
    assert same("not a cron") is None


def test_the_scorer_accepts_a_matching_workflow_and_names_what_another_misses() -> None:
    expect = next(case for case in CASES if case["id"] == "weekday-issue-digest")["expect"]
    assert nl_eval.check_case(expect, digest()) == []
    wrong = digest()
    wrong["trigger"] = {"type": "schedule", "cron": "0 9 * * *", "timezone": "UTC"}
    wrong["nodes"][2]["needs"] = []
    wrong["nodes"][2]["type"] = "email.send"
    assert nl_eval.check_case(expect, wrong) == [
        "cron '0 9 * * *' does not fire as '0 9 * * 1-5'",
        "timezone 'UTC', expected 'Europe/Paris'",
        "no slack.post_message node",
        "no llm.chat node upstream of a slack.post_message node",
    ]


def test_the_scorer_looks_into_foreach_bodies_and_on_failure() -> None:
    expect = {
        "trigger": {"type": "manual"},
        "node_types": ["email.send"],
        "wiring": [["sheets.read_range", "email.send"]],
        "on_failure_types": ["slack.post_message"],
    }
    definition = {
        "nodes": [
            {"id": "rows", "type": "sheets.read_range"},
            {
                "id": "each",
                "type": "foreach",
                "needs": ["rows"],
                "params": {"nodes": [{"id": "mail", "type": "email.send"}]},
            },
        ],
        "on_failure": [{"id": "alert", "type": "slack.post_message"}],
    }
    assert nl_eval.check_case(expect, definition) == []
    definition["on_failure"] = []
    assert nl_eval.check_case(expect, definition) == ["no slack.post_message node in on_failure"]


async def test_nl_eval_scores_a_model_end_to_end(fake_openai: FakeOpenAI) -> None:
    settings = Settings(
        openai_api_key=SecretStr(fake_openai.api_key), openai_base_url=fake_openai.base_url
    )
    digest_case = next(case for case in CASES if case["id"] == "weekday-issue-digest")
    form_case = next(case for case in CASES if case["id"] == "contact-form-to-email")
    fake_openai.queue(
        json.dumps({"definition": digest(), "explanation": "Posts a digest."}),
        json.dumps({"definition": digest(), "explanation": "Not what was asked."}),
    )
    results = await nl_eval.run_cases(settings, [digest_case, form_case], concurrency=1)
    assert [(r.id, r.passed, r.attempts) for r in results] == [
        ("weekday-issue-digest", True, 1),
        ("contact-form-to-email", False, 1),
    ]
    assert "trigger is 'schedule', expected 'webhook'" in results[1].misses
    table = nl_eval.report(results, settings.openai_model)
    assert "Passed 1 of 2 (50 %)" in table


def test_nl_eval_without_a_key_says_how_to_configure(capsys: pytest.CaptureFixture[str]) -> None:
    assert nl_eval.main([], settings=Settings(openai_api_key=None)) == 2
    assert "OPENAI_API_KEY" in capsys.readouterr().err
