"""The sandboxed template engine for definition strings (DESIGN.md §4).

Templates are Jinja2, written by users, and rendered inside Temporal's workflow sandbox, so
everything here is pure and deterministic: no I/O, clock, randomness or threads. Jinja's
`ImmutableSandboxedEnvironment` refuses Python internals (`__class__`, `__globals__`, ...) and
mutation of data; on top of it this module bounds what a template may cost:

- size: no string, list or dict a template builds, no value it prints and no rendered text may
  exceed `MAX_OUTPUT_CHARS`, nor may all the templates of one rendered value together. A
  value's size counts shared parts every time they would be printed, so `[[s] * 1000] * 1000`
  is as big as its text. Amplifying operations (`*`, `**`, `+`, `%`, `~`, `format`,
  `replace`, `join`, `indent`, ...) are checked *before* they run. A bare reference
  (`{{ nodes.fetch.output.body }}`, only lookups) builds nothing and hands on the value as it
  is, whatever its size, up to `MAX_PASSED_CHARS` for all the references of one value;
- loops: at most `MAX_LOOP_ITERATIONS` `{% for %}` iterations per render, over all loops;
- nesting: of source brackets and blocks, of values, and of macro calls, is limited by our own
  counters (`MAX_SOURCE_NESTING`, `MAX_NESTING`, `MAX_CALL_DEPTH`) well before Python's
  recursion limit, so a template fails the same way whatever the stack it is rendered from;
- work: every operator, filter, test, call, lookup, comparison, loop iteration and character
  or item copied, compared or measured draws on a per-render budget of `MAX_WORK` units (each
  roughly 10 ns of CPU), so CPU time is bounded without a clock and stays deterministic. A
  string a template builds costs at least a unit per byte CPython stores it in (a non-ASCII
  character counts as four), so the budget also bounds the memory a render allocates.

Literals, `{% for %}` iterables, `~` and comparisons reach the budget because `_Hardener`
rewrites each parsed template to call `_Guards`; everything else goes through the sandbox's
hooks (`call`, `call_binop`, `getattr`, `getitem`, `finalize`, `concat`) and wrapped filters
and tests. The budget of the render in progress lives in a ContextVar.
"""

import functools
import math
import operator
import re
import types
from collections import abc
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from itertools import chain, islice
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, meta, nodes
from jinja2 import Template as JinjaTemplate
from jinja2.exceptions import TemplateError as JinjaError
from jinja2.ext import Extension
from jinja2.filters import do_batch, make_attrgetter, sync_do_sum
from jinja2.runtime import Context, LoopContext, Macro, Undefined, missing
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedFormatter
from jinja2.utils import (
    Cycler,
    Joiner,
    Namespace,
    _PassArg,
    object_type_repr,
    pass_context,
    pass_environment,
)
from jinja2.visitor import NodeTransformer
from markupsafe import EscapeFormatter, Markup

MAX_OUTPUT_CHARS = 1_000_000
"""Rendered text, and any value a template builds or prints (its size, as described above);
also what all the templates in one `render_value` call render to, together."""
MAX_PASSED_CHARS = 64 * 1024 * 1024
"""What bare references (`{{ nodes.fetch.output.body }}`) in one value may hand on together:
they build nothing, so `MAX_OUTPUT_CHARS` does not apply to them, but a value naming one big
output a thousand times would be a thousand times its size once serialized."""
MAX_RANGE = 10_000
"""Items in one `range()`."""
MAX_LOOP_ITERATIONS = 100_000
"""`{% for %}` iterations per render, across all loops and nesting levels."""
MAX_FORMAT_WIDTH = 10_000
"""Widths and precisions in `%` and `str.format` format specs."""
MAX_POWER_EXPONENT = 100
"""Largest exponent of an integer `**`."""
MAX_INT_BITS = 10_000
"""Largest integer that `*` or `**` may produce or a native result may hold (~3,000 digits)."""
MAX_NESTING = 100
"""Deepest nesting of a value a template builds, prints, compares or returns."""
MAX_CALL_DEPTH = 30
"""Deepest nesting of calls: macros calling macros, recursive loops."""
MAX_SOURCE_NESTING = 20
"""Deepest nesting of brackets and blocks in a template's source."""
MAX_WORK = 50_000_000
"""Work units per render (see the module docstring)."""

_ITERATION_COST = 100  # a loop iteration
_LOOKUP_COST = 100  # an attribute or item lookup
_STEP_COST = 200  # an operator, filter, test, comparison, slice or literal
_CALL_COST = 2_000  # a macro or method call
_VISIT_COST = 50  # measuring one element of a container
_ELEMENT_COST = 4  # comparing one element of a list with another value
_MEMO_MIN_SIZE = 256  # remember the size of containers at least this big
_FLOAT_SIZE = 8  # printed characters of a typical float
_MAX_JSON_INDENT = 16


class TemplateError(Exception):
    """A template failed to parse or render. str(e) is a one-line human message (no traceback),
    e.g. "inputs has no attribute 'foo'" or "line 1: unexpected '}'".

    `location` says where in the value given to `render_value` the failing string sits
    ("headers.Authorization", "items[2]"; "" for the value itself)."""

    def __init__(self, message: str, location: str = "") -> None:
        super().__init__(message)
        self.location = location


# --- the per-render budget ---------------------------------------------------------------


class _Budget:
    """What one `render_value` call has spent, the sizes it has measured, and its context."""

    def __init__(self, context: Mapping[str, Any]) -> None:
        self.context = context
        self.work = 0
        self.loop_iterations = 0
        self.call_depth = 0
        self.capture_native = False
        self.native: Any = missing
        self.rendered = 0
        self.passed = 0
        self._sizes: dict[int, tuple[Any, int, int]] = {}

    def charge(self, units: int) -> None:
        self.work += units
        if self.work > MAX_WORK:
            raise TemplateError(
                f"template does too much work (over {MAX_WORK:,} units in one render); simplify it"
            )

    def add_rendered(self, value: Any) -> None:
        """Count what one template rendered to against the cap on the whole value: a list of
        templates must not add up to more than one template may render."""
        self.rendered += _size(value)
        if self.rendered > MAX_OUTPUT_CHARS:
            raise _too_big("the rendered templates together")

    def add_passed(self, value: Any) -> None:
        """Count a value a bare reference handed on against `MAX_PASSED_CHARS`."""
        self.passed += _size(value)
        if self.passed > MAX_PASSED_CHARS:
            raise TemplateError(
                f"the values referenced together would exceed {MAX_PASSED_CHARS:,} characters"
            )

    def counted(self, iterable: Iterable[Any]) -> Iterator[Any]:
        """Yield from `iterable`, counting every item against the loop and work budgets."""
        for item in iterable:
            self.loop_iterations += 1
            if self.loop_iterations > MAX_LOOP_ITERATIONS:
                raise TemplateError(
                    f"loops ran more than {MAX_LOOP_ITERATIONS:,} iterations in one render"
                )
            self.charge(_ITERATION_COST)
            yield item

    def container_size(self, container: Any) -> int:
        return self._measured(container, 0)[0]

    def _measured(self, container: Any, level: int) -> tuple[int, int]:
        """The size and nesting depth of a container found `level` containers down. Templates
        cannot change lists and dicts (the sandbox is immutable), so both are remembered by
        identity, and a value built from shared parts is measured in time proportional to its
        distinct parts."""
        remembered = self._sizes.get(id(container))
        if remembered is not None:
            size, depth = remembered[1], remembered[2]
        elif level >= MAX_NESTING:  # also stops at a namespace that contains itself
            size, depth = 0, 1
        elif isinstance(container, Namespace):  # mutable: measure its attributes every time
            size, depth = self._measure(container._Namespace__attrs, level)  # type: ignore[attr-defined]
        else:
            size, depth = self._measure(container, level)
            if size >= _MEMO_MIN_SIZE:
                self._sizes[id(container)] = (container, size, depth)  # holding it keeps the id
        if level + depth > MAX_NESTING:
            raise TemplateError(f"a value is nested more than {MAX_NESTING} levels deep")
        return size, depth

    def _measure(self, container: Any, level: int) -> tuple[int, int]:
        if isinstance(container, Mapping):
            elements = 2 * len(container)
            parts: Iterable[Any] = chain(container.keys(), container.values())
        else:
            elements = len(container)
            parts = container
        self.charge(_VISIT_COST * elements)
        total = 2 + 2 * elements  # brackets, and a separator for each element
        deepest = 0
        for part in parts:
            kind = type(part)
            if kind is str:
                total += len(part)
            elif kind is int:
                total += part.bit_length() // 3
            elif kind is float:
                total += _FLOAT_SIZE
            elif kind is bool or part is None:
                pass
            elif _is_measured_container(part):
                size, depth = self._measured(part, level + 1)
                total += size
                deepest = max(deepest, depth)
            elif isinstance(part, Undefined):
                str(part)  # raises the undefined error (its repr would print "Undefined")
            else:
                total += _size(part)
            if total > MAX_WORK:
                break
        return min(total, MAX_WORK + 1), deepest + 1


_ACTIVE_BUDGET: ContextVar[_Budget | None] = ContextVar("flowpilot_template_budget", default=None)


def _budget() -> _Budget:
    """The budget of the render in progress (a throwaway one for compile-time folding)."""
    return _ACTIVE_BUDGET.get() or _Budget({})


def _size(value: Any) -> int:
    """About how long `value` is once printed (str() or JSON), counting shared parts each
    time they occur. Above MAX_WORK the exact figure does not matter and is not computed."""
    if isinstance(value, str | bytes):
        return len(value)
    if isinstance(value, int):
        return value.bit_length() // 3
    if isinstance(value, float):
        return _FLOAT_SIZE
    if value is None or isinstance(value, Undefined | LoopContext):
        return 0
    if _is_measured_container(value):
        return _budget().container_size(value)
    return 0


def _is_measured_container(value: Any) -> bool:
    if isinstance(value, str | bytes | Undefined | LoopContext):
        return False
    return isinstance(value, list | tuple | dict | Namespace | Mapping | abc.Collection)


def _too_big(what: str) -> TemplateError:
    return TemplateError(f"{what} would exceed {MAX_OUTPUT_CHARS:,} characters")


def _check_estimate(estimate: int, what: str) -> None:
    if estimate > MAX_OUTPUT_CHARS:
        raise _too_big(what)


def _check_size(value: Any, what: str) -> int:
    size = _size(value)
    _check_estimate(size, what)
    return size


def _check_printable(value: Any, what: str) -> int:
    """The size of `value`, which is about to be printed; refuses values that are too big, or
    that would print a memory address (functions, classes, ...) and so not be deterministic."""
    if _is_opaque(value):
        raise TemplateError(f"cannot print a {type(value).__name__}; call it or pick a value")
    return _check_size(value, what)


_OPAQUE_TYPES = (types.FunctionType, types.BuiltinFunctionType, types.MethodType, type)


def _is_opaque(value: Any) -> bool:
    return isinstance(value, _OPAQUE_TYPES) or type(value).__repr__ is object.__repr__


def _length(value: Any) -> int:
    """The cost of scanning `value` once: its length if it is a str, list, tuple or dict."""
    return len(value) if isinstance(value, str | list | tuple | dict) else 0


def _wide_surcharge(value: Any) -> int:
    """The extra cost of building `value` if it is a non-ASCII str, which CPython may store in
    up to 4 bytes a character: 3 units a character (finding its exact width takes a scan)."""
    if isinstance(value, str) and not value.isascii():
        return 3 * len(value)
    return 0


def _is_container(value: Any) -> bool:
    return isinstance(value, list | tuple | dict | Namespace)


# --- comparisons -------------------------------------------------------------------------

_COMPARATORS: dict[str, Callable[[Any, Any], Any]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "gteq": operator.ge,
    "lt": operator.lt,
    "lteq": operator.le,
    "in": lambda left, right: left in right,
    "notin": lambda left, right: left not in right,
}
_COMPARISON_TESTS = {
    **{name: "eq" for name in ("==", "eq", "equalto")},
    **{name: "ne" for name in ("!=", "ne")},
    **{name: "gt" for name in (">", "gt", "greaterthan")},
    **{name: "gteq" for name in (">=", "ge")},
    **{name: "lt" for name in ("<", "lt", "lessthan")},
    **{name: "lteq" for name in ("<=", "le")},
    "in": "in",
}


def _comparison_cost(left: Any, operator_name: str, right: Any) -> int:
    """Roughly how many elements or characters `left <operator> right` will touch."""
    if operator_name in ("in", "notin"):
        if isinstance(right, str):
            return len(right)
        if isinstance(right, Mapping | abc.Set):
            return 0 if isinstance(left, str) else _size(left)  # hashing
        if isinstance(right, list | tuple):
            return _ELEMENT_COST * len(right) + (_size(right) if _is_container(left) else 0)
        return 0
    if _is_container(left) and _is_container(right):
        return min(_size(left), _size(right))
    if isinstance(left, str) and isinstance(right, str):
        return min(len(left), len(right))
    return 0


def _compare(left: Any, operator_name: str, right: Any) -> Any:
    _budget().charge(_STEP_COST + _comparison_cost(left, operator_name, right))
    return _COMPARATORS[operator_name](left, right)


# --- operators ---------------------------------------------------------------------------

_PERCENT_SPEC = re.compile(
    r"%(?:\([^)]*\))?[#0\- +]*(?P<width>\*|\d+)?(?:\.(?P<precision>\*|\d+))?[hlL]?[a-zA-Z%]"
)
_FORMAT_SPEC_NUMBER = re.compile(r"\d+")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_repetition(left: Any, right: Any) -> None:
    if _is_int(left) and _is_int(right):
        if left.bit_length() + right.bit_length() > MAX_INT_BITS:
            raise TemplateError(f"'*' would produce an integer over {MAX_INT_BITS:,} bits")
        return
    sequence, count = (left, right) if isinstance(right, int) else (right, left)
    if isinstance(sequence, str | list | tuple) and isinstance(count, int) and count > 0:
        if count > MAX_OUTPUT_CHARS or _size(sequence) * count > MAX_OUTPUT_CHARS:
            raise _too_big("the result of '*'")


def _check_power(base: Any, exponent: Any) -> None:
    if not (_is_int(base) and _is_int(exponent)) or exponent <= 1:
        return  # floats are constant-time; negative exponents give floats
    if exponent > MAX_POWER_EXPONENT:
        raise TemplateError(f"'**' exponents are limited to {MAX_POWER_EXPONENT}")
    if base.bit_length() * exponent > MAX_INT_BITS:
        raise TemplateError(f"'**' would produce an integer over {MAX_INT_BITS:,} bits")


def _check_addition(left: Any, right: Any) -> None:
    if isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple):
        _check_estimate(_size(left) + _size(right), "the result of '+'")


def _check_width(number: str, what: str) -> None:
    if int(number) > MAX_FORMAT_WIDTH:
        raise TemplateError(f"{what} widths and precisions are limited to {MAX_FORMAT_WIDTH:,}")


def _check_percent_format(text: str, values: Any) -> None:
    """Refuse a `text % values` whose result could exceed the size cap, before formatting."""
    fields = 0
    widest = 0
    for spec in _PERCENT_SPEC.finditer(text):
        for number in (spec["width"], spec["precision"]):
            if number == "*":
                raise TemplateError("'*' widths are not supported in '%' formatting")
            if number:
                _check_width(number, "'%' format")
                widest = max(widest, int(number))
        fields += 1
    if isinstance(values, tuple):
        values_size = sum(_size(value) for value in values)
    else:  # one value, or a mapping that every field may print in full
        values_size = _size(values) * max(fields, 1)
    _check_estimate(len(text) + fields * widest + values_size, "the result of '%'")


def _check_modulo(left: Any, right: Any) -> None:
    if isinstance(left, str):
        _check_percent_format(left, right)


_BINOP_CHECKS: dict[str, Callable[[Any, Any], None]] = {
    "*": _check_repetition,
    "**": _check_power,
    "+": _check_addition,
    "%": _check_modulo,
}


# --- str.format --------------------------------------------------------------------------


class _CappedFormatterMixin:
    """Checks every field of a `str.format` call: its spec's widths, and the running length."""

    _produced = 0

    def vformat(self, format_string: str, args: Any, kwargs: Any) -> str:
        self._produced = len(format_string)
        return super().vformat(format_string, args, kwargs)  # type: ignore[misc]

    def format_field(self, value: Any, format_spec: str) -> Any:
        for number in _FORMAT_SPEC_NUMBER.findall(format_spec):
            _check_width(number, "format()")
        _check_printable(value, "a format() field")
        text = super().format_field(value, format_spec)  # type: ignore[misc]
        self._produced += len(text)
        _check_estimate(self._produced, "the result of format()")
        return text


class _CappedFormatter(_CappedFormatterMixin, SandboxedFormatter):
    pass


class _CappedEscapeFormatter(_CappedFormatterMixin, SandboxedFormatter, EscapeFormatter):
    pass


class _FormatMethod:
    """`some_string.format` / `.format_map` as templates see them (see `wrap_str_format`)."""

    def __init__(self, env: "_Environment", text: str, is_format_map: bool) -> None:
        self._formatter: SandboxedFormatter
        if isinstance(text, Markup):
            self._formatter = _CappedEscapeFormatter(env, escape=text.escape)
        else:
            self._formatter = _CappedFormatter(env)
        self._text = text
        self._is_format_map = is_format_map

    def __repr__(self) -> str:
        return "<str.format_map>" if self._is_format_map else "<str.format>"

    def __call__(self, *args: Any, **kwargs: Any) -> str:
        if self._is_format_map:
            if kwargs or len(args) != 1:
                raise TypeError("format_map() takes exactly one positional argument")
            args, kwargs = (), args[0]
        return type(self._text)(self._formatter.vformat(self._text, args, kwargs))


# --- calls -------------------------------------------------------------------------------

_CALL_INTERNALS = ("_loop_vars", "_block_vars")  # Jinja adds these to calls in loops/blocks


def _check_int_arguments(args: tuple[Any, ...], kwargs: dict[str, Any], what: str) -> None:
    for value in chain(args, kwargs.values()):
        if _is_int(value) and value > MAX_OUTPUT_CHARS:
            raise TemplateError(f"{what}: arguments are limited to {MAX_OUTPUT_CHARS:,}")


def _materialized(items: Iterable[Any]) -> list[Any]:
    """`items` as a list, refusing more items than the size cap allows."""
    result = list(islice(items, MAX_OUTPUT_CHARS + 1))
    if len(result) > MAX_OUTPUT_CHARS:
        raise _too_big("a list")
    return result


def _estimate_replace(text: str, old: Any, new: Any, count: Any = -1) -> int:
    old, new = str(old), str(new)
    matches = text.count(old) if old else len(text) + 1
    if _is_int(count) and count >= 0:
        matches = min(matches, count)
    return len(text) + matches * max(len(new) - len(old), 0)


def _estimate_expandtabs(text: str, tabsize: Any = 8) -> int:
    return len(text) + text.count("\t") * (tabsize if _is_int(tabsize) else 8)


def _estimate_translate(text: str, table: Any) -> int:
    values = table.values() if isinstance(table, Mapping) else ()
    widest = max((len(value) for value in values if isinstance(value, str)), default=1)
    return len(text) * max(widest, 1)


_STR_METHOD_ESTIMATES: dict[str, Callable[..., int]] = {
    "replace": _estimate_replace,
    "expandtabs": _estimate_expandtabs,
    "translate": _estimate_translate,
}


def _checked_str_join(separator: str, items: Iterable[Any]) -> str:
    parts = _materialized(items)
    size = sum(len(part) for part in parts if isinstance(part, str))
    _check_estimate(size + len(separator) * len(parts), "the result of join()")
    return separator.join(parts)


def _callable_name(function: Any) -> str:
    name = getattr(function, "__name__", None) or getattr(function, "name", None)
    return name if isinstance(name, str) else type(function).__name__


def _capped_range(*args: int) -> range:
    numbers = range(*args)
    try:
        too_long = len(numbers) > MAX_RANGE
    except OverflowError:
        too_long = True
    if too_long:
        raise TemplateError(f"range() is limited to {MAX_RANGE:,} items")
    return numbers


_DATA_CALLABLES = (dict, Namespace, Cycler, Joiner, _capped_range)


def _takes_sizes(function: Any, owner: Any) -> bool:
    """Whether int arguments of `function` may be sizes (so are capped), rather than data."""
    if isinstance(function, Macro | _FormatMethod | LoopContext):
        return False
    if any(function is known for known in _DATA_CALLABLES):
        return False
    return not isinstance(owner, dict | list | tuple | LoopContext | Cycler)


# --- filters and tests -------------------------------------------------------------------

_REMOVED_FILTERS = ("random", "pprint", "urlize", "slice")  # non-deterministic, or risky
_DATA_FILTERS = frozenset(
    {"default", "d", "format", "sum", "select", "reject", "selectattr", "rejectattr", "map"}
    | {"int", "float"}
)  # int arguments of these are values, not sizes
_CONSTANT_TIME_FILTERS = frozenset(
    {"length", "count", "first", "last", "default", "d", "attr", "abs", "round", "safe"}
)
_SCAN_COST = {"wordwrap": 50, "batch": 20, "xmlattr": 20, "urlencode": 10, "striptags": 5}
_COMPARING_FILTERS = frozenset({"sort", "dictsort", "unique", "min", "max", "groupby"})
_STRINGIFYING_FILTERS = frozenset(
    {"capitalize", "center", "e", "escape", "forceescape", "indent", "lower", "replace"}
    | {"safe", "string", "striptags", "title", "tojson", "trim", "truncate", "upper"}
    | {"urlencode", "wordcount", "wordwrap", "xmlattr"}
)


def _estimate_indent(text: Any, width: Any = 4, first: Any = False, blank: Any = False) -> int:
    text = str(text)
    prefix = len(width) if isinstance(width, str) else width if _is_int(width) else 0
    return len(text) + (text.count("\n") + 1) * prefix


def _estimate_wordwrap(
    text: Any,
    width: Any = 79,
    break_long_words: Any = True,
    wrapstring: Any = None,
    break_on_hyphens: Any = True,
) -> int:
    """Two consecutive wrapped lines hold more than `width` characters together."""
    text = str(text)
    lines = 2 * len(text) // max(width if _is_int(width) else 1, 1) + text.count("\n") + 2
    return len(text) + lines * len("\n" if wrapstring is None else str(wrapstring))


def _estimate_replace_filter(text: Any, old: Any, new: Any, count: Any = None) -> int:
    return _estimate_replace(str(text), old, new, -1 if count is None else count)


def _estimate_tojson(value: Any, indent: Any = None) -> int:
    width = len(indent) if isinstance(indent, str) else indent if _is_int(indent) else 0
    if width > _MAX_JSON_INDENT:
        raise TemplateError(f"tojson indent is limited to {_MAX_JSON_INDENT}")
    return 0


def _estimate_batch(value: Any, linecount: Any, fill_with: Any = None) -> int:
    if fill_with is None or not _is_int(linecount):
        return 0
    return _length(value) + linecount * (1 + _size(fill_with))


_FILTER_ESTIMATES: dict[str, Callable[..., int]] = {
    "batch": _estimate_batch,
    "indent": _estimate_indent,
    "wordwrap": _estimate_wordwrap,
    "replace": _estimate_replace_filter,
    "tojson": _estimate_tojson,
}


@pass_environment
def _join_filter(environment: Any, value: Iterable[Any], d: Any = "", attribute: Any = None) -> str:
    """`join`, printing and counting one item at a time rather than all at once."""
    separator = str(d)
    if attribute is not None:
        value = map(make_attrgetter(environment, attribute), value)
    budget = _budget()
    parts: list[str] = []
    produced = 0
    for item in value:
        budget.charge(_LOOKUP_COST)
        _check_printable(item, "a join() item")
        part = str(item)
        produced += len(part) + len(separator)
        _check_estimate(produced, "the result of join()")
        parts.append(part)
    return separator.join(parts)


def _format_filter(value: Any, *args: Any, **kwargs: Any) -> str:
    if args and kwargs:
        raise TemplateError("format: use positional or keyword arguments, not both")
    values = kwargs or args
    _check_percent_format(str(value), values)
    return str(value) % values


@pass_environment
def _sum_filter(environment: Any, iterable: Any, attribute: Any = None, start: Any = 0) -> Any:
    """`sum` of numbers only: summing lists or strings takes quadratic time."""
    if not isinstance(start, int | float):
        raise TemplateError("sum: start must be a number")
    return sync_do_sum(environment, iterable, attribute, start)


def _batch_filter(value: Iterable[Any], linecount: int, fill_with: Any = None) -> list[Any]:
    """`batch`, as a list, so that the rows it builds are measured like any other value."""
    return _materialized(do_batch(value, linecount, fill_with))


def _with_pass_arg(function: Callable[..., Any]) -> Callable[..., Any]:
    """`function(context, *args)` for a Jinja filter or test, handing it the first argument it
    asks for (the context, eval context, environment, or nothing)."""
    pass_arg = _PassArg.from_obj(function)
    if pass_arg is _PassArg.context:
        return function
    if pass_arg is _PassArg.eval_context:
        return lambda context, *args, **kwargs: function(context.eval_ctx, *args, **kwargs)
    if pass_arg is _PassArg.environment:
        return lambda context, *args, **kwargs: function(context.environment, *args, **kwargs)
    return lambda context, *args, **kwargs: function(*args, **kwargs)


def _filter_input_cost(name: str, value: Any) -> int:
    if name in _CONSTANT_TIME_FILTERS:
        return 0
    if name in _COMPARING_FILTERS:
        return _size(value) * max(_length(value).bit_length(), 1)
    return _SCAN_COST.get(name, 1) * _length(value)


def _guarded_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    run = _with_pass_arg(function)
    estimate = _FILTER_ESTIMATES.get(name)
    caps_ints = name not in _DATA_FILTERS
    stringifies = name in _STRINGIFYING_FILTERS
    label = f"filter {name!r}"
    result_label = f"the result of filter {name!r}"

    @pass_context
    def guarded(context: Context, value: Any, *args: Any, **kwargs: Any) -> Any:
        budget = _budget()
        budget.charge(_STEP_COST + _filter_input_cost(name, value))
        if caps_ints and (args or kwargs):
            _check_int_arguments(args, kwargs, label)
        if stringifies and type(value) is not str:
            if isinstance(value, Undefined):
                str(value)  # raises the undefined error, rather than a puzzling one later
            _check_printable(value, f"the input of {label}")
        if estimate is not None:
            _check_estimate(estimate(value, *args, **kwargs), result_label)
        result = run(context, value, *args, **kwargs)
        budget.charge(_check_size(result, result_label) + _wide_surcharge(result))
        return result

    return guarded


def _guarded_test(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    run = _with_pass_arg(function)
    comparison = _COMPARISON_TESTS.get(name)

    @pass_context
    def guarded(context: Context, value: Any, *args: Any, **kwargs: Any) -> Any:
        cost = _STEP_COST
        if comparison is not None and args:
            cost += _comparison_cost(value, comparison, args[0])
        _budget().charge(cost)
        return run(context, value, *args, **kwargs)

    return guarded


# --- rewriting templates -----------------------------------------------------------------


class _Guards(Extension):
    """Runtime hooks that `_Hardener` inserts into every parsed template."""

    def loop(self, iterable: Iterable[Any]) -> Iterator[Any]:
        return _budget().counted(iterable)

    def literal(self, value: list[Any] | tuple[Any, ...] | dict[Any, Any]) -> Any:
        budget = _budget()
        budget.charge(_STEP_COST + len(value))
        _check_size(value, "a list or dict literal")
        if isinstance(value, dict):  # hashing a tuple key costs its size, every time
            budget.charge(sum(_size(key) for key in value if isinstance(key, tuple)))
        return value

    def slice(self, sequence: Any, start: Any, stop: Any, step: Any) -> Any:
        result = sequence[start:stop:step]
        _budget().charge(_STEP_COST + _length(result) + _wide_surcharge(result))
        return result

    def concat(self, *parts: Any) -> str:
        produced = 0
        for part in parts:
            produced += len(part) if isinstance(part, str) else _check_printable(part, "'~'")
            _check_estimate(produced, "the result of '~'")
        result = "".join(map(str, parts))
        _budget().charge(_STEP_COST + produced + _wide_surcharge(result))
        return result

    def compare(self, left: Any, *operations: Any) -> Any:
        """`left op1 right1 op2 right2 ...` as Python chains it (operands all evaluated)."""
        result: Any = True
        for operator_name, right in zip(operations[::2], operations[1::2], strict=True):
            result = _compare(left, operator_name, right)
            if not result:
                return result
            left = right
        return result


class _Hardener(NodeTransformer):
    """Routes literals, loops, `~` and comparisons through `_Guards`; refuses loading other
    templates (there are none)."""

    def _guard(self, hook: str, node: nodes.Node, *args: nodes.Expr) -> nodes.Call:
        target = nodes.ExtensionAttribute(_Guards.identifier, hook, lineno=node.lineno)
        return nodes.Call(target, list(args), [], None, None, lineno=node.lineno)

    def visit_For(self, node: nodes.For) -> nodes.Node:
        node = self.generic_visit(node)
        node.iter = self._guard("loop", node, node.iter)
        return node

    def visit_Getitem(self, node: nodes.Getitem) -> nodes.Node:
        node = self.generic_visit(node)
        if not isinstance(node.arg, nodes.Slice):
            return node  # plain subscripts go through the sandbox's getitem
        bounds = [node.arg.start, node.arg.stop, node.arg.step]
        none = nodes.Const(None, lineno=node.lineno)
        return self._guard("slice", node, node.node, *[bound or none for bound in bounds])

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        node = self.generic_visit(node)
        return self._guard("concat", node, *node.nodes)

    def visit_Compare(self, node: nodes.Compare) -> nodes.Node:
        node = self.generic_visit(node)
        operations: list[nodes.Expr] = []
        for operand in node.ops:
            operations += [nodes.Const(operand.op, lineno=node.lineno), operand.expr]
        return self._guard("compare", node, node.expr, *operations)

    def _literal(self, node: nodes.Node) -> nodes.Node:
        node = self.generic_visit(node)
        if getattr(node, "ctx", "load") != "load":  # an assignment target: a, b = ...
            return node
        return self._guard("literal", node, node)

    visit_List = visit_Tuple = visit_Dict = _literal

    def _refuse(self, node: nodes.Node) -> nodes.Node:
        keyword = type(node).__name__.lower().replace("fromimport", "from ... import")
        raise TemplateSyntaxError(f"'{keyword}' is not supported in templates", node.lineno)

    visit_Extends = visit_Include = visit_Import = visit_FromImport = _refuse


# --- the environment ---------------------------------------------------------------------


def _describe(obj: Any) -> str:
    """A name for `obj` in messages: its path in the render context (`nodes.a.output`), if it
    can be found there quickly, else its type."""
    budget = _ACTIVE_BUDGET.get()
    pending = list(budget.context.items()) if budget else []
    for path, value in islice(iter(pending), 10_000):  # `pending` grows while we iterate
        if value is obj:
            return path
        if isinstance(value, Mapping) and path.count(".") < 6:
            pending.extend(
                (f"{path}.{key}" if key.isidentifier() else f"{path}[{key!r}]", item)
                for key, item in value.items()
                if isinstance(key, str) and isinstance(item, Mapping | list)
            )
    return object_type_repr(obj)


class _Undefined(StrictUndefined):
    __slots__ = ()

    @property
    def _undefined_message(self) -> str:
        if self._undefined_hint:
            return self._undefined_hint
        if self._undefined_obj is missing:
            return f"{self._undefined_name!r} is undefined"
        owner = _describe(self._undefined_obj)
        if isinstance(self._undefined_name, str):
            return f"{owner} has no attribute {self._undefined_name!r}"
        return f"{owner} has no element {self._undefined_name!r}"


_PLAIN_TYPES = frozenset({str, int, float, bool, type(None), list, dict, tuple, Markup})


def _plain(value: Any) -> Any:
    """Lazy sequences (generators from filters, dict views, ranges) as lists."""
    if type(value) in _PLAIN_TYPES:
        return value
    if isinstance(value, Iterator) and not isinstance(value, LoopContext):
        return _materialized(value)
    if isinstance(value, abc.MappingView | range):
        return list(value)
    return value


@pass_context
def _finalize(context: Context, value: Any) -> Any:
    """Every `{{ expression }}` value passes here before it is printed."""
    if isinstance(value, Undefined):
        str(value)  # raises the undefined error
    value = _plain(value)
    budget = _budget()
    if budget.capture_native:
        budget.native = value
        return ""
    budget.charge(_check_printable(value, "a printed value"))
    return value


def _capped_concat(parts: Iterable[str]) -> str:
    """Joins macro, block and `{% set %}` bodies; refuses oversize text before allocating it."""
    pieces = list(parts)
    produced = sum(map(len, pieces))
    _check_estimate(produced, "a macro or block body")
    result = "".join(pieces)
    _budget().charge(produced + _wide_surcharge(result))
    return result


class _Environment(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset(_BINOP_CHECKS)

    def __init__(self) -> None:
        super().__init__(
            undefined=_Undefined, autoescape=False, finalize=_finalize, extensions=[_Guards]
        )
        self.concat = _capped_concat  # type: ignore[method-assign]
        self.globals.pop("lipsum", None)  # random
        self.globals["range"] = _capped_range
        for name in _REMOVED_FILTERS:
            self.filters.pop(name, None)
        self.filters.update(
            join=_join_filter, format=_format_filter, sum=_sum_filter, batch=_batch_filter
        )
        self.filters = {name: _guarded_filter(name, f) for name, f in self.filters.items()}
        self.tests = {name: _guarded_test(name, test) for name, test in self.tests.items()}

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        template = _Hardener().visit(super()._parse(source, name, filename))
        template.set_environment(self)
        return template

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        budget = _budget()
        budget.charge(_STEP_COST)
        _BINOP_CHECKS[operator](left, right)
        result = self.binop_table[operator](left, right)
        budget.charge(_length(result) + _wide_surcharge(result))
        return result

    def call(self, context: Context, function: Any, /, *args: Any, **kwargs: Any) -> Any:
        owner = getattr(function, "__self__", None)
        arguments = {key: value for key, value in kwargs.items() if key not in _CALL_INTERNALS}
        if isinstance(owner, _Guards):
            return function(*args, **arguments)
        budget = _budget()
        budget.charge(_CALL_COST + (_length(owner) if not isinstance(owner, dict) else 0))
        name = _callable_name(function)
        if isinstance(owner, str) and name in ("format", "format_map"):
            function = self.wrap_str_format(function) or function  # e.g. from |attr('format')
        if _takes_sizes(function, owner) and (args or arguments):
            _check_int_arguments(args, arguments, f"{name}()")
        if isinstance(function, LoopContext) and args:  # `loop(children)` in a recursive loop
            args = (budget.counted(args[0]), *args[1:])
        if isinstance(owner, str) and name == "join" and len(args) == 1:
            result: Any = _checked_str_join(owner, args[0])
        else:
            if isinstance(owner, str) and name in _STR_METHOD_ESTIMATES:
                estimate = _STR_METHOD_ESTIMATES[name](owner, *args, **arguments)
                _check_estimate(estimate, f"the result of {name}()")
            if budget.call_depth >= MAX_CALL_DEPTH:
                raise TemplateError(
                    f"calls are nested more than {MAX_CALL_DEPTH} deep "
                    "(a macro or recursive loop calling itself?)"
                )
            budget.call_depth += 1
            try:
                result = super().call(context, function, *args, **kwargs)
            finally:
                budget.call_depth -= 1
        size = _size(result)
        if size > MAX_OUTPUT_CHARS:
            raise _too_big(f"the result of {name}()")
        budget.charge(size + _wide_surcharge(result))
        return result

    def getattr(self, obj: Any, attribute: str) -> Any:
        _budget().charge(_LOOKUP_COST)
        if isinstance(obj, dict) and attribute in obj:
            return obj[attribute]  # JSON keys such as `items` or `count` win over dict methods
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        _budget().charge(_LOOKUP_COST)
        return super().getitem(obj, argument)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        if not isinstance(value, types.MethodType | types.BuiltinMethodType):
            return None
        if value.__name__ not in ("format", "format_map") or not isinstance(value.__self__, str):
            return None
        return _FormatMethod(self, value.__self__, value.__name__ == "format_map")


_ENV = _Environment()


# --- compiling ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Compiled:
    template: JinjaTemplate
    single_expression: bool
    """The source is one `{{ expression }}` (give or take whitespace): keep its type."""
    reference: bool = False
    """That expression only looks a value up (`nodes.fetch.output.body`, `item['id']`): it
    hands on data the run already holds and builds nothing, so no size cap applies to it."""


def _one_line(message: str) -> str:
    return " ".join(message.split())


def _syntax_message(error: TemplateSyntaxError) -> str:
    return _one_line(f"line {error.lineno}: {error.message}")


def _single_expression(template: nodes.Template) -> nodes.Expr | None:
    """The one `{{ expression }}` the template is, give or take whitespace; else None."""
    if len(template.body) != 1 or not isinstance(template.body[0], nodes.Output):
        return None
    children = template.body[0].nodes
    data = [child for child in children if isinstance(child, nodes.TemplateData)]
    expressions = [child for child in children if not isinstance(child, nodes.TemplateData)]
    if len(expressions) != 1 or any(child.data.strip() for child in data):
        return None
    return expressions[0]


def _is_lookup(expression: nodes.Expr) -> bool:
    """A name followed only by attribute and constant-key lookups."""
    while isinstance(expression, nodes.Getattr | nodes.Getitem):
        if isinstance(expression, nodes.Getitem) and not isinstance(expression.arg, nodes.Const):
            return False
        expression = expression.node
    return isinstance(expression, nodes.Name)


_BLOCK_OPENERS = frozenset({"for", "if", "macro", "call", "filter", "with", "block", "autoescape"})


def _check_nesting(source: str) -> None:
    """Refuse deeply nested sources before Jinja's recursive parser sees them, so that they
    fail the same way whatever the depth of the Python stack we are called from."""
    depth = 0
    statement: list[str] = []  # the tokens of the `{% ... %}` being read
    for line, kind, value in _ENV.lex(source):
        if kind == "whitespace":
            continue
        if kind == "block_begin":
            statement = [kind]
        elif statement:
            statement.append(value)
            if kind == "block_end":
                depth += _block_nesting(statement[1:-1])
                statement = []
        if kind == "operator" and value in "([{)]}":
            depth += 1 if value in "([{" else -1
        depth = max(depth, 0)
        if depth > MAX_SOURCE_NESTING:
            raise TemplateError(f"line {line}: the template is nested too deeply")


def _block_nesting(words: list[str]) -> int:
    """+1 for a statement that opens a block, -1 for one that closes one, else 0."""
    keyword = words[0] if words else ""
    if keyword in _BLOCK_OPENERS or (keyword == "set" and "=" not in words):
        return 1
    if keyword.startswith("end") and (keyword[3:] in _BLOCK_OPENERS or keyword == "endset"):
        return -1
    return 0


def _parse(source: str) -> nodes.Template:
    try:
        _check_nesting(source)
        return _ENV.parse(source)
    except TemplateSyntaxError as error:
        raise TemplateError(_syntax_message(error)) from None
    except (RecursionError, MemoryError):
        raise TemplateError("template is nested too deeply") from None


@functools.lru_cache(maxsize=4096)
def _compile(source: str) -> _Compiled:
    template = _parse(source)
    expression = _single_expression(template)
    reference = expression is not None and _is_lookup(expression)
    try:
        return _Compiled(_ENV.from_string(template), expression is not None, reference)
    except TemplateSyntaxError as error:
        raise TemplateError(_syntax_message(error)) from None
    except (RecursionError, MemoryError, SyntaxError):
        raise TemplateError("template is nested too deeply") from None


# --- rendering ---------------------------------------------------------------------------


def _json_compatible(value: Any, depth: int = 0) -> Any:
    """A native result as JSON data: tuples and lazy sequences become lists."""
    if depth > MAX_NESTING:
        raise TemplateError(f"the result is nested more than {MAX_NESTING} levels deep")
    value = _plain(value)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, Undefined):
        str(value)  # raises the undefined error
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        if value.bit_length() > MAX_INT_BITS:
            raise TemplateError(f"the result is an integer over {MAX_INT_BITS:,} bits")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise TemplateError(f"the result {value} is not a JSON number")
        return value
    if isinstance(value, list | tuple):
        return [_json_compatible(item, depth + 1) for item in value]
    if isinstance(value, Mapping):
        if not all(isinstance(key, str) for key in value):
            raise TemplateError("the result is a dict with keys that are not strings")
        return {key: _json_compatible(item, depth + 1) for key, item in value.items()}
    raise TemplateError(f"the result is a {type(value).__name__}, not JSON data")


def _render_text(compiled: _Compiled, context: Mapping[str, Any]) -> str:
    chunks: list[str] = []
    produced = 0
    for chunk in compiled.template.generate(context):
        produced += len(chunk)
        if produced > MAX_OUTPUT_CHARS:
            raise TemplateError(f"the output exceeds {MAX_OUTPUT_CHARS:,} characters")
        chunks.append(chunk)
    return "".join(chunks)


def _render_native(compiled: _Compiled, context: Mapping[str, Any], budget: _Budget) -> Any:
    budget.capture_native = True
    try:
        for _whitespace in compiled.template.generate(context):
            pass
    finally:
        budget.capture_native = False
    if not compiled.reference:
        _check_size(budget.native, "the result")
    return _json_compatible(budget.native)


def _template_line(error: BaseException) -> int | None:
    """The template line an error was raised on (Jinja rewrites tracebacks to show it)."""
    line = None
    traceback = error.__traceback__
    while traceback is not None:
        if traceback.tb_frame.f_code.co_filename == "<template>":
            line = traceback.tb_lineno
        traceback = traceback.tb_next
    return line


def _render_error_message(error: Exception, source: str) -> str:
    if isinstance(error, TemplateSyntaxError):
        return _syntax_message(error)
    if isinstance(error, TemplateError | JinjaError):
        message = str(error)
    elif isinstance(error, RecursionError):
        message = "recursion is too deep (a macro or loop calling itself, or a deep value)"
    elif isinstance(error, MemoryError):
        message = "the template ran out of memory"
    else:
        message = f"{type(error).__name__}: {error}"
    line = _template_line(error)
    if line is not None and "\n" in source.strip():
        message = f"line {line}: {message}"
    return _one_line(message)


def _render_compiled(
    compiled: _Compiled, source: str, context: Mapping[str, Any], budget: _Budget
) -> Any:
    try:
        if compiled.single_expression:
            return _render_native(compiled, context, budget)
        return _render_text(compiled, context)
    except Exception as error:
        raise TemplateError(_render_error_message(error, source)) from None


def _location(path: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    if isinstance(key, str) and key.isidentifier():
        return f"{path}.{key}" if path else key
    return f"{path}[{key!r}]"


def _render_tree(value: Any, context: Mapping[str, Any], budget: _Budget, path: str) -> Any:
    if isinstance(value, str):
        if not is_template(value):
            return value
        try:
            compiled = _compile(value)
            rendered = _render_compiled(compiled, value, context, budget)
            if compiled.reference:
                budget.add_passed(rendered)
            else:
                budget.add_rendered(rendered)
        except TemplateError as error:
            raise TemplateError(str(error), path) from None
        return rendered
    if isinstance(value, Mapping):
        return {
            key: _render_tree(item, context, budget, _location(path, key))
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [
            _render_tree(item, context, budget, _location(path, index))
            for index, item in enumerate(value)
        ]
    return value


# --- public API --------------------------------------------------------------------------


def is_template(value: str) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value or "{#" in value)


def check_syntax(source: str) -> None:
    """Raise TemplateError (naming the line) if `source` does not parse or compile, e.g.
    because it uses an unknown filter."""
    _compile(source)


@functools.lru_cache(maxsize=4096)
def referenced_names(source: str) -> frozenset[str]:
    """Top-level names `source` reads from its context (`inputs`, `nodes`, `item`, ...)."""
    template = _parse(source)
    try:
        names = meta.find_undeclared_variables(template)
    except TemplateSyntaxError as error:
        raise TemplateError(_syntax_message(error)) from None
    return frozenset(names - set(_ENV.globals))


@functools.lru_cache(maxsize=4096)
def referenced_nodes(source: str) -> frozenset[str]:
    """Node ids that `source` reads as `nodes.<id>` or `nodes['<id>']`."""
    found: set[str] = set()
    for node in _parse(source).find_all((nodes.Getattr, nodes.Getitem)):
        if not (isinstance(node.node, nodes.Name) and node.node.name == "nodes"):
            continue
        if isinstance(node, nodes.Getattr):
            found.add(node.attr)
        elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            found.add(node.arg.value)
    return frozenset(found)


def render_value(value: Any, context: Mapping[str, Any]) -> Any:
    """Render every template string in a JSON-like `value`; dict keys are left alone.

    A string that is exactly one `{{ expression }}` keeps the expression's JSON type (a list
    stays a list); any other template renders to a str. Every failure raises TemplateError,
    and one budget (work, loop iterations, rendered size) covers the whole value."""
    budget = _Budget(context)
    token = _ACTIVE_BUDGET.set(budget)
    try:
        return _render_tree(value, context, budget, "")
    except RecursionError:
        raise TemplateError("the value is nested too deeply") from None
    finally:
        _ACTIVE_BUDGET.reset(token)
