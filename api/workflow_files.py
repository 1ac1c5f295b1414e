"""Workflow definitions as a folder of JSON files, for review in git: file names, the file
format, and the plan that brings a server in line with a folder. Pure: no I/O beyond reading
the folder, no HTTP.

A folder holds one `<slug of the name>.json` per workflow with its definition as the API
returns it, 2-space indented with a trailing newline, so an export of unchanged workflows is
byte for byte the same and a diff shows only what was edited. Workflows are matched by name:
two files, or two of the user's workflows, with one name would make that ambiguous, so
both the export and the import refuse them (`NameClash`) and say which.
"""

import json
import re
import unicodedata
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from api.schemas import ValidationIssue, WorkflowPublic

SUFFIX = ".json"
_NOT_WORD = re.compile(r"[\W_]+")
_MAX_SLUG = 120


class NameClash(Exception):
    """Names that would make a file or a workflow ambiguous; `clashes` has one line each."""

    def __init__(self, clashes: list[str]) -> None:
        super().__init__("; ".join(clashes))
        self.clashes = clashes


def slug(name: str) -> str:
    """`Weekday issue digest` → `weekday-issue-digest`; accents are dropped, other scripts
    kept (`Café 日報` → `cafe-日報`)."""
    decomposed = unicodedata.normalize("NFKD", name)
    plain = "".join(char for char in decomposed if unicodedata.category(char) != "Mn")
    text = _NOT_WORD.sub("-", plain.lower()).strip("-")
    return text[:_MAX_SLUG].rstrip("-") or "workflow"


def file_name(name: str) -> str:
    return slug(name) + SUFFIX


def dump(definition: dict[str, Any]) -> str:
    """The file's text: the definition as given (key order included), deterministically."""
    return json.dumps(definition, indent=2, ensure_ascii=False) + "\n"


def export_files(workflows: list[WorkflowPublic]) -> dict[str, WorkflowPublic]:
    """File name → workflow, sorted by file name; `NameClash` when two share a file name."""
    by_file: dict[str, list[WorkflowPublic]] = {}
    for workflow in workflows:
        by_file.setdefault(file_name(workflow.name), []).append(workflow)
    clashes = [
        f"{name}: " + ", ".join(f"'{w.name}' ({w.id})" for w in group)
        for name, group in sorted(by_file.items())
        if len(group) > 1
    ]
    if clashes:
        raise NameClash(clashes)
    return {name: group[0] for name, group in sorted(by_file.items())}


class DefinitionFile(BaseModel):
    path: Path
    definition: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.definition.get("name", ""))


class FileProblem(BaseModel):
    path: Path
    issues: list[ValidationIssue]


def read_folder(folder: Path) -> tuple[list[DefinitionFile], list[FileProblem]]:
    """Every `*.json` of `folder` (not its subfolders), by file name: the definitions, and
    the files that are not JSON objects at all (the API validates the rest)."""
    files: list[DefinitionFile] = []
    problems: list[FileProblem] = []
    for path in sorted(folder.glob(f"*{SUFFIX}")):
        if not path.is_file():
            continue
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            problems.append(_problem(path, f"cannot read it: {error}"))
            continue
        if not isinstance(raw, dict):
            problems.append(_problem(path, "a definition is a JSON object"))
            continue
        files.append(DefinitionFile(path=path, definition=raw))
    return files, problems


def _problem(path: Path, message: str) -> FileProblem:
    return FileProblem(path=path, issues=[ValidationIssue(node=None, field="", message=message)])


Action = Literal["create", "update", "unchanged"]


class PlannedChange(BaseModel):
    action: Action
    file: DefinitionFile
    workflow: WorkflowPublic | None
    """The workflow of that name, for `update` and `unchanged`."""
    changes: list[str] = []
    """For `update`: what differs, e.g. `description`, `node fetch`, `+node post`."""

    @property
    def name(self) -> str:
        return self.file.name


def plan_import(files: list[DefinitionFile], existing: list[WorkflowPublic]) -> list[PlannedChange]:
    """Create what is missing, update what differs, leave what is equal; `NameClash` when a
    name is in two files, or names two existing workflows."""
    clashes: list[str] = []
    files_by_name: dict[str, list[DefinitionFile]] = {}
    for file in files:
        files_by_name.setdefault(file.name, []).append(file)
    for name, group in files_by_name.items():
        if len(group) > 1:
            paths = ", ".join(file.path.name for file in group)
            clashes.append(f"'{name}' is the name in {len(group)} files: {paths}")
    workflows_by_name: dict[str, list[WorkflowPublic]] = {}
    for workflow in existing:
        workflows_by_name.setdefault(workflow.name, []).append(workflow)
    for name in files_by_name:
        matches = workflows_by_name.get(name, [])
        if len(matches) > 1:
            ids = ", ".join(str(workflow.id) for workflow in matches)
            clashes.append(f"'{name}' names {len(matches)} workflows on the server: {ids}")
    if clashes:
        raise NameClash(clashes)
    return [_planned(file, workflows_by_name.get(file.name, [])) for file in files]


def _planned(file: DefinitionFile, matches: list[WorkflowPublic]) -> PlannedChange:
    if not matches:
        return PlannedChange(action="create", file=file, workflow=None)
    workflow = matches[0]
    if workflow.definition == file.definition:
        return PlannedChange(action="unchanged", file=file, workflow=workflow)
    changes = differences(workflow.definition, file.definition)
    return PlannedChange(action="update", file=file, workflow=workflow, changes=changes)


def differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """A reviewer's summary of what changed: top-level fields, and nodes by id."""
    found: list[str] = []
    for key in sorted(old.keys() | new.keys()):
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        if key in ("nodes", "on_failure") and isinstance(before, list) and isinstance(after, list):
            found += _node_differences(before, after, "node" if key == "nodes" else "on_failure")
        else:
            found.append(key)
    return found


def _node_differences(before: list[Any], after: list[Any], label: str) -> list[str]:
    old = _by_id(before)
    new = _by_id(after)
    if old is None or new is None:
        return [f"{label}s"]
    found = [f"-{label} {node_id}" for node_id in old if node_id not in new]
    found += [f"+{label} {node_id}" for node_id in new if node_id not in old]
    found += [f"{label} {key}" for key, node in new.items() if old.get(key, node) != node]
    if not found:
        found.append(f"{label} order")
    return found


def _by_id(nodes: list[Any]) -> dict[str, Any] | None:
    if not all(isinstance(node, dict) and isinstance(node.get("id"), str) for node in nodes):
        return None
    return {node["id"]: node for node in nodes}
