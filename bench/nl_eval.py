"""Score a live model on tests/nl_cases.json: does each description become a workflow with
the properties it must have?

Each case's prompt goes through the same generator the API uses (api/nl.py: the node
catalog, structured output, validation and repair rounds), with a user who has one
credential of every common kind and one saved workflow ("Nightly export"). A case passes
when the answer is a valid definition with every expected property: trigger type (a
schedule's cron compared by the times it fires, and its time zone), node types present or
absent, wiring (a node of type A upstream of one of type B), on_failure node types and
declared inputs.

Needs a model: OPENAI_API_KEY, and OPENAI_BASE_URL / OPENAI_MODEL for another
OpenAI-compatible server or model (the same settings as the API). Without a key it says so
and exits 2.

    .venv/bin/python bench/nl_eval.py                     # every case
    .venv/bin/python bench/nl_eval.py --only expense-approval --only failure-alert
    .venv/bin/python bench/nl_eval.py --limit 5 --concurrency 2 --json /tmp/nl.json
"""

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from api.errors import ApiError  # noqa: E402
from api.nl import (  # noqa: E402
    KnownCredential,
    KnownWorkflow,
    UserContext,
    WorkflowGenerator,
    generator_for,
)
from core.config import Settings  # noqa: E402

CASES = ROOT / "tests" / "nl_cases.json"
CONTEXT = UserContext(
    credentials=[
        KnownCredential("slack", "slack"),
        KnownCredential("smtp", "smtp"),
        KnownCredential("openai", "openai"),
        KnownCredential("notion", "notion"),
        KnownCredential("google", "google_service_account"),
    ],
    workflows=[
        KnownWorkflow(
            id="0d6f3c8e-2b8e-4c59-9a54-7a1f2e9b3c10",
            name="Nightly export",
            description="Exports the day's orders to the warehouse",
            inputs=[],
        )
    ],
)

# -- checking a definition against a case's expectations -------------------------------------

_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_FIELDS = [
    (0, 59, []),
    (0, 23, []),
    (1, 31, []),
    (1, 12, "jan feb mar apr may jun jul aug sep oct nov dec".split()),
    (0, 7, "sun mon tue wed thu fri sat".split()),
]


def cron_fields(expression: str) -> tuple[frozenset[int], ...] | None:
    """The minutes, hours, days, months and weekdays a cron fires on; None if unreadable.

    Two crons fire at the same times exactly when their fields are equal, so
    "0 9 * * 1-5" and "0 9 * * MON-FRI" compare equal.
    """
    parts = _MACROS.get(expression.strip().lower(), expression).split()
    if len(parts) != 5:
        return None
    fields = []
    for part, (low, high, names) in zip(parts, _FIELDS, strict=True):
        values = _cron_field(part.lower(), low, high, names)
        if values is None:
            return None
        if high == 7:  # Sunday is 0 and 7
            values = {0 if value == 7 else value for value in values}
        fields.append(frozenset(values))
    return tuple(fields)


def _cron_field(part: str, low: int, high: int, names: list[str]) -> set[int] | None:
    values: set[int] = set()
    for term in part.split(","):
        range_text, slash, step_text = term.partition("/")
        if slash and not (step_text.isdigit() and int(step_text) > 0):
            return None
        step = int(step_text) if slash else 1
        if range_text == "*":
            start, end = low, high
        else:
            first, dash, last = range_text.partition("-")
            start_value = _cron_value(first, low, names)
            end_value = _cron_value(last, low, names) if dash else None
            if start_value is None or (dash and end_value is None):
                return None
            start = start_value
            end = end_value if end_value is not None else (high if slash else start_value)
        if not low <= start <= end <= high:
            return None
        values.update(range(start, end + 1, step))
    return values


def _cron_value(text: str, low: int, names: list[str]) -> int | None:
    if text.isdigit():
        return int(text)
    if text in names:
        return names.index(text) + low
    return None


def _nodes_with_ancestors(
    nodes: list[Any], outer: frozenset[str] = frozenset()
) -> Iterator[tuple[str, frozenset[str]]]:
    """(type, types of every node upstream of it) for each node, foreach bodies included;
    a body node's upstream includes what is upstream of its foreach."""
    by_id = {node.get("id"): node for node in nodes if isinstance(node, dict)}

    def ancestors(node_id: str, seen: set[str]) -> set[str]:
        found: set[str] = set()
        for need in by_id.get(node_id, {}).get("needs", []):
            if need in by_id and need not in seen:
                seen.add(need)
                found |= {by_id[need].get("type", "")} | ancestors(need, seen)
        return found

    for node_id, node in by_id.items():
        upstream = frozenset(ancestors(node_id, set())) | outer
        yield node.get("type", ""), upstream
        body = node.get("params", {}).get("nodes") if node.get("type") == "foreach" else None
        if isinstance(body, list):
            yield from _nodes_with_ancestors(body, upstream)


def check_case(expect: dict[str, Any], definition: dict[str, Any]) -> list[str]:
    """What the definition misses of `expect`; empty when it has every property."""
    misses = []
    trigger = definition.get("trigger") or {"type": "manual"}
    wanted = expect["trigger"]
    if trigger.get("type", "manual") != wanted["type"]:
        misses.append(f"trigger is {trigger.get('type')!r}, expected {wanted['type']!r}")
    else:
        if "cron" in wanted:
            got = cron_fields(str(trigger.get("cron", "")))
            if got is None or got != cron_fields(wanted["cron"]):
                misses.append(f"cron {trigger.get('cron')!r} does not fire as {wanted['cron']!r}")
        if "timezone" in wanted and trigger.get("timezone", "UTC") != wanted["timezone"]:
            misses.append(f"timezone {trigger.get('timezone')!r}, expected {wanted['timezone']!r}")
        if "respond" in wanted and trigger.get("respond", "accepted") != wanted["respond"]:
            misses.append(f"respond {trigger.get('respond')!r}, expected {wanted['respond']!r}")
    main = list(_nodes_with_ancestors(definition.get("nodes", [])))
    handlers = list(_nodes_with_ancestors(definition.get("on_failure", [])))
    present = {node_type for node_type, _ in main + handlers}
    misses += [f"no {t} node" for t in expect.get("node_types", []) if t not in present]
    misses += [f"an unwanted {t} node" for t in expect.get("absent_types", []) if t in present]
    for upstream, downstream in expect.get("wiring", []):
        if not any(t == downstream and upstream in before for t, before in main):
            misses.append(f"no {upstream} node upstream of a {downstream} node")
    on_failure = {node_type for node_type, _ in handlers}
    misses += [
        f"no {t} node in on_failure"
        for t in expect.get("on_failure_types", [])
        if t not in on_failure
    ]
    declared = definition.get("inputs") or {}
    misses += [
        f"no input named {name!r}" for name in expect.get("inputs", []) if name not in declared
    ]
    return misses


# -- running the cases ------------------------------------------------------------------------


@dataclass
class CaseResult:
    id: str
    passed: bool
    misses: list[str] = field(default_factory=list)
    attempts: int = 0
    seconds: float = 0.0
    error: str | None = None
    definition: dict[str, Any] | None = None


def load_cases(path: Path = CASES) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = json.loads(path.read_text())["cases"]
    return cases


async def evaluate(case: dict[str, Any], generator: WorkflowGenerator) -> CaseResult:
    started = time.perf_counter()
    try:
        answer = await generator.generate(case["prompt"], CONTEXT)
    except ApiError as error:
        detail = error.detail
        message = detail.get("message", str(detail)) if isinstance(detail, dict) else str(detail)
        seconds = time.perf_counter() - started
        return CaseResult(case["id"], False, error=message, seconds=seconds)
    misses = check_case(case["expect"], answer.definition)
    return CaseResult(
        case["id"],
        passed=not misses,
        misses=misses,
        attempts=answer.attempts,
        seconds=time.perf_counter() - started,
        definition=answer.definition,
    )


async def run_cases(
    settings: Settings, cases: list[dict[str, Any]], concurrency: int = 4
) -> list[CaseResult]:
    """Every case through the generator, `concurrency` at a time, in the cases' order."""
    limit = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(trust_env=False) as http:
        generator = generator_for(settings, http)

        async def one(case: dict[str, Any]) -> CaseResult:
            async with limit:
                return await evaluate(case, generator)

        return list(await asyncio.gather(*(one(case) for case in cases)))


def report(results: list[CaseResult], model: str) -> str:
    passed = sum(result.passed for result in results)
    lines = [
        f"# NL evaluation: {model}",
        "",
        "| case | result | model answers | seconds | what it missed |",
        "|---|---|--:|--:|---|",
    ]
    for result in results:
        verdict = "pass" if result.passed else "**fail**"
        missed = result.error or "; ".join(result.misses)
        lines.append(
            f"| {result.id} | {verdict} | {result.attempts} | {result.seconds:.1f} | {missed} |"
        )
    answered = [result for result in results if result.attempts]
    lines += [
        "",
        f"Passed {passed} of {len(results)} ({100 * passed / max(1, len(results)):.0f} %).",
    ]
    if answered:
        repaired = sum(result.attempts > 1 for result in answered)
        lines.append(
            f"Repair rounds were needed for {repaired} of {len(answered)} valid answers; "
            f"median time {statistics.median(r.seconds for r in answered):.1f} s."
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None, settings: Settings | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--model", help="override OPENAI_MODEL")
    parser.add_argument("--only", action="append", default=[], metavar="ID", help="this case")
    parser.add_argument("--limit", type=int, help="the first N cases")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--json", type=Path, metavar="FILE", help="write every result here")
    args = parser.parse_args(argv)
    settings = settings or Settings()
    if settings.openai_api_key is None or not settings.openai_api_key.get_secret_value():
        print(
            "nl_eval needs a model: set OPENAI_API_KEY (and OPENAI_BASE_URL for another "
            "OpenAI-compatible server, OPENAI_MODEL for another model)",
            file=sys.stderr,
        )
        return 2
    if args.model:
        settings = settings.model_copy(update={"openai_model": args.model})
    cases = load_cases()
    if args.only:
        unknown = set(args.only) - {case["id"] for case in cases}
        if unknown:
            parser.error(f"unknown case(s): {', '.join(sorted(unknown))}")
        cases = [case for case in cases if case["id"] in args.only]
    cases = cases[: args.limit] if args.limit else cases
    results = asyncio.run(run_cases(settings, cases, args.concurrency))
    print(report(results, settings.openai_model))
    if args.json:
        args.json.write_text(json.dumps([asdict(result) for result in results], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
