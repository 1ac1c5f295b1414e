"""The sandboxed template engine: native types, errors, references, and the safety caps."""

import json
import time
from typing import Any

import pytest

from workflows.templates import (
    MAX_LOOP_ITERATIONS,
    TemplateError,
    check_syntax,
    is_template,
    referenced_names,
    referenced_nodes,
    render_value,
)

CONTEXT: dict[str, Any] = {
    "inputs": {"repo": "acme/api", "items": [1, 2, 3], "limit": 5_000_000},
    "nodes": {
        "a": {
            "status": "succeeded",
            "output": {
                "ok": True,
                "body": [{"title": "First"}, {"title": "Second"}],
                "items": ["x", "y"],
            },
        },
    },
    "run": {"id": "run-1", "workflow": "digest", "started_at": "2024-01-01T09:00:00Z"},
}


def render(value: Any) -> Any:
    return render_value(value, CONTEXT)


def refused(source: str) -> TemplateError:
    """Render `source`, expecting a TemplateError within a second (a bound, not a benchmark)."""
    started = time.perf_counter()
    with pytest.raises(TemplateError) as caught:
        render(source)
    assert time.perf_counter() - started < 1.0, source
    return caught.value


# --- rendering ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ inputs.items }}", [1, 2, 3]),
        ("{{ 1 + 2 }}", 3),
        ("{{ 7 / 2 }}", 3.5),
        ("{{ nodes.a.output.ok }}", True),
        ("{{ none }}", None),
        ("{{ nodes.a.output.body[0] }}", {"title": "First"}),
        ("{{ dict(a=1, b=[2]) }}", {"a": 1, "b": [2]}),
        ("  {{ inputs.repo }}\n", "acme/api"),
    ],
)
def test_single_expression_keeps_its_native_type(source: str, expected: Any) -> None:
    result = render(source)
    assert result == expected
    assert type(result) is type(expected)


def test_native_results_are_json_data() -> None:
    assert render("{{ (1, 2) }}") == [1, 2]
    assert render("{{ inputs.items | map('string') }}") == ["1", "2", "3"]
    assert render("{{ inputs.keys() }}") == ["repo", "items", "limit"]
    assert render("{{ inputs.items | tojson }}") == "[1, 2, 3]"
    json.dumps(render("{{ nodes.a }}"))


def test_native_results_that_are_not_json_data_are_refused() -> None:
    for source in ("{{ cycler(1, 2) }}", "{{ ''.upper }}", "{{ 1e308 * 10 }}", "{{ {1: 2} }}"):
        with pytest.raises(TemplateError):
            render(source)


def test_mixed_text_renders_to_str() -> None:
    assert render("repo: {{ inputs.repo }}") == "repo: acme/api"
    assert render("{{ inputs.items }} and more") == "[1, 2, 3] and more"
    assert render("{{ 1 }}{{ 2 }}") == "12"
    assert render("{% if nodes.a.output.ok %}yes{% endif %}") == "yes"


def test_nested_params_are_rendered_recursively() -> None:
    params = {
        "url": "https://api.github.com/repos/{{ inputs.repo }}/issues",
        "headers": {"X-Run": "{{ run.id }}", "{{ keys }}": "are not rendered"},
        "list": ["{{ inputs.items }}", "plain", 3, None, True, {"deep": "{{ inputs.items[0] }}"}],
    }
    assert render(params) == {
        "url": "https://api.github.com/repos/acme/api/issues",
        "headers": {"X-Run": "run-1", "{{ keys }}": "are not rendered"},
        "list": [[1, 2, 3], "plain", 3, None, True, {"deep": 1}],
    }


def test_non_template_strings_are_returned_untouched() -> None:
    for text in ("plain", "{ not a template }", "100% {x}", ""):
        assert is_template(text) is False
        assert render(text) is text
    assert is_template("{{ x }}") and is_template("{% if x %}{% endif %}")
    assert is_template("{# note #}")


def test_json_keys_named_like_dict_methods_are_readable_with_dots() -> None:
    assert render("{{ nodes.a.output.items }}") == ["x", "y"]


# --- errors ------------------------------------------------------------------------------


def test_undefined_attribute_names_the_missing_attribute_and_its_owner() -> None:
    with pytest.raises(TemplateError) as caught:
        render("{{ inputs.foo }}")
    assert str(caught.value) == "inputs has no attribute 'foo'"
    with pytest.raises(TemplateError, match=r"nodes\.a\.output has no attribute 'nope'"):
        render("text {{ nodes.a.output.nope }}")
    with pytest.raises(TemplateError, match="'missing' is undefined"):
        render("{{ missing }}")


def test_errors_say_where_in_the_value_they_happened() -> None:
    with pytest.raises(TemplateError) as caught:
        render({"headers": {"auth": ["ok", "{{ inputs.nope }}"]}})
    assert caught.value.location == "headers.auth[1]"
    assert "\n" not in str(caught.value)


def test_syntax_error_names_the_line() -> None:
    with pytest.raises(TemplateError) as caught:
        check_syntax("{{ x }")
    assert str(caught.value) == "line 1: unexpected '}'"
    with pytest.raises(TemplateError, match=r"^line 3: "):
        check_syntax("a\nb\n{% if x %}")
    with pytest.raises(TemplateError, match="line 1: No filter named 'nope'"):
        check_syntax("{{ x | nope }}")
    check_syntax("{{ x | upper }} {% for i in y %}{{ i }}{% endfor %}")


def test_runtime_errors_become_one_line_template_errors() -> None:
    with pytest.raises(TemplateError, match="ZeroDivisionError: division by zero"):
        render("{{ 1 / 0 }}")
    with pytest.raises(TemplateError, match=r"^line 2: "):
        render("ok\n{{ 1 / 0 }}")
    with pytest.raises(TemplateError):
        render("{{ 'a' + 1 }}")
    with pytest.raises(TemplateError, match="not supported"):
        render("{% include 'other' %}")


# --- references --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ nodes.a.output }}", {"a"}),
        ("{{ nodes['b'].output }}", {"b"}),
        ("{% for i in nodes.c.output.body %}{{ i.title }}{% endfor %}", {"c"}),
        ("{{ nodes.d.output | map(attribute='x') | join(nodes['e'].output.sep) }}", {"d", "e"}),
        ("{{ nodes.f.status == 'succeeded' and inputs.x }}", {"f"}),
        ("{{ inputs.nodes.g }}", set()),
        ("no template", set()),
    ],
)
def test_referenced_nodes(source: str, expected: set[str]) -> None:
    assert referenced_nodes(source) == expected


def test_referenced_names_lists_context_names_but_not_globals_or_locals() -> None:
    source = (
        "{% set total = inputs.n %}{% for x in nodes.a.output %}{{ x }}{{ item }}{% endfor %}"
        "{{ range(3) | list }}{{ dict(a=total) }}{{ run.id }}{{ namespace() }}"
    )
    assert referenced_names(source) == {"inputs", "nodes", "item", "run"}


# --- legitimate use still works ----------------------------------------------------------


def test_legitimate_templates_render() -> None:
    items = [{"title": f"issue {n}", "n": n} for n in range(1_000)]
    loop = "{% for i in items %}- {{ i.title | upper }} #{{ i.n }}\n{% endfor %}"
    text = render_value(loop, {"items": items})
    assert text.count("\n") == 1_000 and text.startswith("- ISSUE 0 #0\n")
    assert render_value("{{ items | length }}", {"items": items}) == 1_000
    assert render_value("{{ x | tojson }}", {"x": {"b": [1, "<"]}}) == '{"b": [1, "\\u003c"]}'
    assert render("{{ 'a' * 3 }}") == "aaa"
    assert render("{{ 2 ** 10 }}") == 1024
    assert render("{{ '%05d' % 42 }}") == "00042"
    assert render("{{ '{:>6}'.format('ab') }}") == "    ab"
    assert render("{{ nodes.a.output.body | map(attribute='title') | join(', ') }}") == (
        "First, Second"
    )
    assert render("{{ inputs.limit }} {{ inputs.limit | default(0) }}") == "5000000 5000000"
    assert render("{{ range(5) | sum }} {{ 'x' | center(5) }}|") == "10   x  |"
    assert render("{{ [1, 2, 3, 4] | batch(3, 0) | list }}") == [[1, 2, 3], [4, 0, 0]]


def test_a_loop_can_build_text_with_a_namespace() -> None:
    source = "{% set ns = namespace(s='') %}{% for i in range(100) %}{% set ns.s = ns.s ~ i %}"
    assert len(render(source + "{% endfor %}{{ ns.s }}")) == 190


# --- safety ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ self._TemplateReference__context }}",
        "{{ (inputs.items | map('upper')).gi_frame }}",
        "{{ inputs.items.append(4) }}",
        "{{ '{0.__class__}'.format(1) }}",
    ],
)
def test_python_internals_are_out_of_reach(source: str) -> None:
    refused(source)


@pytest.mark.parametrize(
    "source",
    [
        "{{ range(10**9) | list }}",
        "{{ range(10**9) }}",
        "{{ 'a' * 10**9 }}",
        "{{ [1] * 10**9 }}",
        "{{ 9 ** (9 ** 9) }}",
        "{{ 2 ** 1000 }}",
        "{% set ns = namespace(x=3) %}{% for i in range(40) %}{% set ns.x = ns.x * ns.x %}"
        "{% endfor %}{{ ns.x }}",
        "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}",
        "{% for i in range(10000) %}{% for j in range(10000) %}x{% endfor %}{% endfor %}",
        "{% set ns = namespace(x='a' * 500000) %}"
        "{% for i in range(30) %}{% set ns.x = ns.x ~ ns.x %}{% endfor %}{{ ns.x | length }}",
        "{% set x = 'a' * 500000 %}{% set x = x ~ x %}{% set x = x ~ x %}{% set x = x ~ x %}",
        "{% set x = 'a' * 500000 %}{% set x = x + x %}{% set x = x + x %}",
        "{{ '%999999999d' % 1 }}",
        "{{ '%*d' % (999999999, 1) }}",
        "{{ '%(a)s%(a)s%(a)s' % {'a': 'x' * 500000} }}",
        "{{ '{:>999999999}'.format(1) }}",
        "{{ '{:{}}'.format(1, 999999999) }}",
        "{{ ('{:>999999999}' | attr('format'))(1) }}",
        "{{ 'x' | center(999999999) }}",
        "{{ 'x' | indent(10**9) }}",
        "{{ 'x' | wordwrap(10**9) }}",
        "{{ 'a'.ljust(10**9) }}",
        "{{ ('\t' * 1000000).expandtabs(1000000) }}",
        "{{ ('a' * 1000) | replace('a', 'a' * 2000) }}",
        "{{ ('a' * 1000).replace('a', 'a' * 2000) }}",
        "{{ ('\n' * 999999) | indent(1000) }}",
        "{% set s = 'x' * 600000 %}{{ '%s%s' | format(s, s) }}",
        "{{ [['x' * 1000] * 1000] * 1000 }}",
        "{% set a = ['x' * 100000] * 9 %}{{ [a, a] }}",
        "{% set a = ['x' * 100000] * 9 %}{{ a + a }}",
        "{% set a = ['x' * 100000] * 9 %}{{ {'k': a, 'l': a} }}",
        "{% set a = ['x' * 100000] * 9 %}{{ [1] | batch(3, a) | list }}",
        "{{ {}.fromkeys(range(10000), 'x' * 1000) }}",
        "{{ [1] | batch(999999, 'x' * 10) | list }}",
        "{{ [[1]] | sum(start=[]) }}",
        "{{ 'x' | tojson(indent=1000000) }}",
        "{% macro m() %}{% for i in range(10000) %}{{ 'x' * 1000 }}{% endfor %}{% endmacro %}"
        "{{ m() | length }}",
        "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
        "{% for x in [1] recursive %}{{ loop([1]) }}{% endfor %}",
        "{{ " + "[" * 1000 + "]" * 1000 + " }}",
        "{% set ns = namespace(x=[]) %}{% for i in range(10000) %}{% set ns.x = [ns.x] %}"
        "{% endfor %}{{ ns.x }}",
        "{{ lipsum(1000) }}",
    ],
)
def test_expensive_templates_fail_fast(source: str) -> None:
    refused(source)


@pytest.mark.parametrize(
    "source",
    [
        "{{ shared }} as text",
        "{{ shared | tojson }}",
        "{{ shared | join }}",
        "{{ ''.join(shared) }}",
        "{{ shared | string }}",
        "{{ '' ~ shared }}",
        "{{ '%s' % (shared,) }}",
        "{{ '{}'.format(shared) }}",
        "{{ shared | first ~ shared | last ~ shared | first }}",
    ],
)
def test_big_values_cannot_be_printed(source: str) -> None:
    """A value from the context (an input or node output) may be bigger than a template may
    build; printing it, whole or in parts, is still capped."""
    started = time.perf_counter()
    with pytest.raises(TemplateError, match="would exceed 1,000,000 characters"):
        render_value(source, {"shared": ["x" * 400_000] * 3})
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize(
    "source", ["{{ big.body }}", "{{ big['body'] }}", "{{big . body}}", " {{ big.body }} "]
)
def test_a_bare_reference_hands_a_big_value_on_as_it_is(source: str) -> None:
    body = "x" * 20_000_000
    assert render_value(source, {"big": {"body": body}}) is body


def test_references_in_one_value_are_capped_together() -> None:
    many = {f"copy{index}": "{{ big }}" for index in range(10)}
    with pytest.raises(TemplateError, match="referenced together would exceed 67,108,864"):
        render_value(many, {"big": "x" * 10_000_000})


@pytest.mark.parametrize(
    "source", ["{{ big.body | upper }}", "{{ big.body ~ '' }}", "{{ big[key] }}", "{{ f(big) }}"]
)
def test_anything_more_than_lookups_is_capped_as_before(source: str) -> None:
    context = {"big": {"body": "x" * 2_000_000}, "key": "body", "f": lambda value: value}
    with pytest.raises(TemplateError, match="exceed 1,000,000 characters"):
        render_value(source, context)


def test_functions_cannot_be_printed() -> None:
    with pytest.raises(TemplateError, match="cannot print"):
        render("text {{ ''.upper }}")


def test_loop_iterations_are_counted_across_all_loops_and_nesting_levels() -> None:
    assert MAX_LOOP_ITERATIONS == 100_000
    nested = "{% for i in range(10) %}{% for j in range(JJ) %}{% endfor %}{% endfor %}"
    render(nested.replace("JJ", "9999"))  # 10 + 99,990 iterations: exactly the limit
    error = refused(nested.replace("JJ", "10000"))
    assert "loops ran more than 100,000 iterations" in str(error)
    flat = "{% for i in range(10000) %}{% endfor %}"
    render(flat * 10)
    refused(flat * 11)


def test_one_budget_covers_the_whole_value() -> None:
    loop = "{% for i in range(10000) %}{% endfor %}"
    render([loop] * 10)
    with pytest.raises(TemplateError, match="loops ran more than"):
        render({"a": [loop] * 5, "b": [loop] * 6})


def test_nesting_is_limited_before_python_recursion_would_be() -> None:
    """Limits that do not depend on how deep the Python stack already is, so that a template
    fails (or not) the same way on every worker and on replay."""
    assert render("{{ " + "[" * 20 + "]" * 20 + " }}") is not None
    with pytest.raises(TemplateError, match="nested too deeply"):
        check_syntax("{{ " + "[" * 21 + "]" * 21 + " }}")
    with pytest.raises(TemplateError, match="nested too deeply"):
        check_syntax("{% if x %}" * 21 + "{% endif %}" * 21)
    fold = "{% set ns = namespace(x=[]) %}{% for i in range(N) %}{% set ns.x = [ns.x] %}"
    fold += "{% endfor %}{{ ns.x | length }}"
    assert render(fold.replace("N", "99")) == "1"
    with pytest.raises(TemplateError, match="nested more than 100 levels"):
        render(fold.replace("N", "100"))
    countdown = "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(N) }}"
    assert render(countdown.replace("N", "25")) == ""
    with pytest.raises(TemplateError, match="calls are nested more than 30 deep"):
        render(countdown.replace("N", "30"))


def test_exponential_work_is_cut_off_by_the_work_budget() -> None:
    fan_out = "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}"
    with pytest.raises(TemplateError, match="too much work"):
        render(fan_out + "{{ f(25) }}")  # 2 ** 25 calls


def test_shared_structures_cannot_multiply_their_size() -> None:
    levels = "{% set a = ('x' * 10,) * 10 %}" + "".join(
        f"{{% set {name} = ({previous},) * 10 %}}"
        for previous, name in zip("abcdefgh", "bcdefghi", strict=True)
    )
    error = refused(levels + "{{ {i: 1} | length }}")
    assert "would exceed" in str(error)


def test_output_is_capped() -> None:
    source = "{% for i in range(2000) %}{{ 'x' * 1000 }}{% endfor %}"
    error = refused(source)
    assert "exceeds 1,000,000 characters" in str(error)


def test_non_deterministic_helpers_are_removed() -> None:
    for source in ("{{ [1, 2] | random }}", "{{ lipsum() }}"):
        with pytest.raises(TemplateError):
            render(source)


def test_jinja_power_is_left_associative() -> None:
    """Jinja reads `9**9**9` as `(9**9)**9`, a 78-digit number: cheap, so it is allowed."""
    assert render("{{ 9**9**9 }}") == (9**9) ** 9
