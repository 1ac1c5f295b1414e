"""The templates the web app offers: every example workflow, valid, to signed-in users only."""

import json
from pathlib import Path

import httpx

from api.routes.templates import load_templates
from core.config import Settings
from tests.support.api import sign_up
from workflows.definition import validate_definition

EXAMPLES_DIR = Settings().templates_dir


async def test_every_example_is_listed_with_a_valid_definition(api: httpx.AsyncClient) -> None:
    headers = await sign_up(api)

    answer = await api.get("/api/templates", headers=headers)

    assert answer.status_code == 200
    templates = answer.json()
    assert sorted(template["id"] for template in templates) == sorted(
        path.stem for path in EXAMPLES_DIR.glob("*.json")
    )
    for template in templates:
        definition = validate_definition(template["definition"])
        assert template["name"] == definition.name
        assert template["description"] == definition.description
        assert template["trigger"] == definition.trigger.type
        assert template["node_count"] == len(definition.nodes) > 0
        assert template["node_types"] == sorted({node.type for node in definition.nodes})


async def test_templates_need_a_signed_in_user(api: httpx.AsyncClient) -> None:
    assert (await api.get("/api/templates")).status_code == 401


def test_invalid_and_unreadable_files_are_skipped(tmp_path: Path) -> None:
    valid = json.loads(next(iter(sorted(EXAMPLES_DIR.glob("*.json")))).read_text())
    (tmp_path / "good.json").write_text(json.dumps(valid))
    (tmp_path / "no-nodes.json").write_text(json.dumps({**valid, "nodes": []}))
    (tmp_path / "broken.json").write_text("{not json")
    (tmp_path / "list.json").write_text("[]")

    assert [template.id for template in load_templates(tmp_path)] == ["good"]
