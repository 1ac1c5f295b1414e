"""Every definition in examples/ is valid and explains itself."""

import json
from pathlib import Path

import pytest

from workflows.definition import validate_definition

EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "examples").glob("*.json"))


def test_there_are_at_least_six_examples() -> None:
    assert len(EXAMPLES) >= 6, [path.name for path in EXAMPLES]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.stem)
def test_example_is_valid(path: Path) -> None:
    validate_definition(json.loads(path.read_text()))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.stem)
def test_example_has_a_name_and_description(path: Path) -> None:
    raw = json.loads(path.read_text())
    assert raw["name"].strip()
    assert len(raw.get("description", "").strip()) >= 40, "say what the example does"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.stem)
def test_example_is_formatted_with_two_space_indent(path: Path) -> None:
    text = path.read_text()
    assert text == json.dumps(json.loads(text), indent=2, ensure_ascii=False) + "\n"
