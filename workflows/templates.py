"""The sandboxed template engine for definition strings (DESIGN.md §4).

Templates are Jinja2, written by users, and rendered inside Temporal's workflow sandbox, so
everything here is pure and deterministic: no I/O, clock, randomness or threads. Jinja's
`ImmutableSandboxedEnvironment` already refuses Python internals (`__class__`, `__globals__`,
mutation of data); on top of it this module bounds what a template may cost:

- size: no string, list or dict built by the template, no output value and no rendered text
  may exceed `MAX_OUTPUT_CHARS`. Amplifying operations (`*`, `**`, `+`, `%`, `~`, `format`,
  `replace`, `join`, `indent`, ...) are checked *before* they allocate;
- loops: at most `MAX_LOOP_ITERATIONS` `{% for %}` iterations per render, over all loops;
- work: every operator, filter, test, call, lookup, comparison and loop iteration draws on a
  per-render budget of `MAX_WORK` units (about 10 ns each), so CPU is bounded without a clock.

`{% for %}` iterables, `~` concatenations and comparison operands are routed to the budget by
rewriting the parsed template (`_Environment._parse`); the rest goes through the sandbox's
hooks (`call`, `call_binop`, `getattr`, `getitem`, `finalize`, `concat`) and wrapped filters.
"""

import functools
import math
import re
import types
from collections import abc, deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from itertools import islice
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, meta, nodes
from jinja2 import Template as JinjaTemplate
from jinja2.exceptions import TemplateError as JinjaError
from jinja2.ext import Extension
from jinja2.filters import make_attrgetter, sync_do_sum
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
"""Rendered text, and any value a template builds or outputs (strings: characters)."""
MAX_RANGE = 10_000
"""Items in one `range()`."""
MAX_LOOP_ITERATIONS = 100_000
"""`{% for %}` iterations per render, across all loops and nesting levels."""
MAX_FORMAT_WIDTH = 10_000
"""Widths and precisions in `%` and `str.format` format specs."""
MAX_POWER_EXPONENT = 100
"""Largest integer exponent of an integer `**`."""
MAX_INT_BITS = 10_000
"""Largest integer a `*` or `**` may produce or a native result may hold (about 3,000 digits)."""
MAX_NESTING = 100
"""Deepest nesting of a native (non-text) result."""
MAX_WORK = 50_000_000
"""Work units per render: costs below, plus one per character or item built or compared."""

_STEP_COST = 50  # an operator, filter, test, comparison or loop iteration
_CALL_COST = 500  # a macro or method call
_LOOKUP_COST = 10  # an attribute or item lookup
_MAX_JSON_INDENT = 16


class TemplateError(Exception):
    """A template failed to parse or render. str(e) is a one-line human message (no traceback),
    e.g. "inputs has no attribute 'foo'" or "line 1: unexpected '}'".

    `location` names where in a rendered value the failing string sits ("headers.Authorization",
    "items[2]"; "" for the value itself)."""

    def __init__(self, message: str, location: str = "") -> None:
        super().__init__(message)
        self.location = location


# --- measuring and budgeting -------------------------------------------------------------


def _size(value: Any, limit: int) -> int:
    """How big `value` is once printed or copied: characters of strings plus one per element,
    counting shared elements every time. Stops as soon as the total exceeds `limit`."""
    total = 0
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str | bytes):
            total += len(item)
        elif isinstance(item, int):
            total += item.bit_length() // 3
        elif isinstance(item, Undefined | LoopContext):
            continue
        elif isinstance(item, Namespace):
            pending.append(item._Namespace__attrs)  # type: ignore[attr-defined]
        elif isinstance(item, Mapping):
            total += 1 + 2 * len(item)
            if total <= limit:
                pending.extend(item.keys())
                pending.extend(item.values())
        elif isinstance(item, abc.Collection):
            total += 1 + len(item)
            if total <= limit:
                pending.extend(item)
        if total > limit:
            break
    return total


def _length(value: Any) -> int:
    """The cost of scanning `value` once (str, list, tuple); 0 for anything else."""
    return len(value) if isinstance(value, str | list | tuple) else 0


def _too_big(what: str) -> TemplateError:
    return TemplateError(f"{what} would exceed {MAX_OUTPUT_CHARS:,} characters")


def _check_size(value: Any, what: str) -> int:
    size = _size(value, MAX_OUTPUT_CHARS)
    if size > MAX_OUTPUT_CHARS:
        raise _too_big(what)
    return size


def _check_estimate(estimate: int, what: str) -> None:
    if estimate > MAX_OUTPUT_CHARS:
        raise _too_big(what)


class _Budget:
    """What one `render_value` call has spent, and the root context (to name values)."""

    def __init__(self, context: Mapping[str, Any]) -> None:
        self.context = context
        self.work = 0
        self.loop_iterations = 0
        self.capture_native = False
        self.native: Any = missing

    def charge(self, units: int) -> None:
        self.work += units
        if self.work > MAX_WORK:
            raise TemplateError(
                f"template does too much work (more than {MAX_WORK:,} units); simplify it"
            )

    def remaining(self) -> int:
        return max(MAX_WORK - self.work, 0)

    def counted(self, iterable: Iterable[Any]) -> Iterator[Any]:
        """Yield from `iterable`, counting every item against the loop and work budgets."""
        for item in iterable:
            self.loop_iterations += 1
            if self.loop_iterations > MAX_LOOP_ITERATIONS:
                raise TemplateError(
                    f"loops ran more than {MAX_LOOP_ITERATIONS:,} iterations in one render"
                )
            self.charge(_STEP_COST)
            yield item


_ACTIVE_BUDGET: ContextVar[_Budget | None] = ContextVar("flowpilot_template_budget", default=None)


def _budget() -> _Budget:
    """The budget of the render in progress (a throwaway one for compile-time folding)."""
    return _ACTIVE_BUDGET.get() or _Budget({})


def _charge_comparison(value: Any, operator: str | None) -> None:
    if operator in ("in", "notin") and isinstance(value, Mapping | abc.Set):
        units = 1  # a hash lookup
    else:
        budget = _budget()
        units = _size(value, budget.remaining() + 1)
    _budget().charge(_STEP_COST + units)


# --- operators ---------------------------------------------------------------------------

_PERCENT_SPEC = re.compile(
    r"%(?:\((?P<key>[^)]*)\))?[#0\- +]*(?P<width>\*|\d+)?(?:\.(?P<precision>\*|\d+))?"
    r"[hlL]?(?P<type>[a-zA-Z%])"
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
        unit = _size(sequence, MAX_OUTPUT_CHARS)
        if unit * count > MAX_OUTPUT_CHARS or count > MAX_OUTPUT_CHARS:
            raise _too_big("the result of '*'")


def _check_power(base: Any, exponent: Any) -> None:
    if not (_is_int(base) and _is_int(exponent)) or exponent <= 1:
        return
    if exponent > MAX_POWER_EXPONENT:
        raise TemplateError(f"'**' exponents are limited to {MAX_POWER_EXPONENT}")
    if base.bit_length() * exponent > MAX_INT_BITS:
        raise TemplateError(f"'**' would produce an integer over {MAX_INT_BITS:,} bits")


def _check_addition(left: Any, right: Any) -> None:
    if isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple):
        left_size = _size(left, MAX_OUTPUT_CHARS)
        _check_estimate(left_size + _size(right, MAX_OUTPUT_CHARS), "the result of '+'")


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
        value_size = sum(_size(value, MAX_OUTPUT_CHARS) for value in values)
    else:  # one value, or a mapping that every field may print in full
        value_size = _size(values, MAX_OUTPUT_CHARS) * max(fields, 1)
    _check_estimate(len(text) + fields * widest + value_size, "the result of '%'")


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
    """Checks every field of a `str.format` call: spec widths, and the running length."""

    _produced = 0

    def vformat(self, format_string: str, args: Any, kwargs: Any) -> str:
        self._produced = len(format_string)
        return super().vformat(format_string, args, kwargs)  # type: ignore[misc]

    def format_field(self, value: Any, format_spec: str) -> Any:
        for number in _FORMAT_SPEC_NUMBER.findall(format_spec):
            _check_width(number, "format()")
        _check_size(value, "a format() field")
        text = super().format_field(value, format_spec)  # type: ignore[misc]
        self._produced += len(text)
        _check_estimate(self._produced, "the result of format()")
        return text


class _CappedFormatter(_CappedFormatterMixin, SandboxedFormatter):
    pass


class _CappedEscapeFormatter(_CappedFormatterMixin, SandboxedFormatter, EscapeFormatter):
    pass


class _FormatMethod:
    """`some_string.format` / `.format_map` as seen by templates (see `wrap_str_format`)."""

    def __init__(self, env: "_Environment", text: str, is_format_map: bool) -> None:
        if isinstance(text, Markup):
            self._formatter: SandboxedFormatter = _CappedEscapeFormatter(env, escape=text.escape)
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


# --- calls and methods -------------------------------------------------------------------


def _check_int_arguments(args: Iterable[Any], what: str) -> None:
    for value in args:
        if _is_int(value) and value > MAX_OUTPUT_CHARS:
            raise TemplateError(f"{what}: arguments are limited to {MAX_OUTPUT_CHARS:,}")


def _materialized(items: Iterable[Any]) -> list[Any]:
    """`items` as a list, refusing more than the size cap allows."""
    result = list(islice(items, MAX_OUTPUT_CHARS + 1))
    if len(result) > MAX_OUTPUT_CHARS:
        raise _too_big("a list")
    return result


def _estimate_replace(text: str, old: Any, new: Any, count: Any = -1) -> int:
    old, new = str(old), str(new)
    matches = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
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


_CALL_INTERNALS = ("_loop_vars", "_block_vars")  # passed by Jinja to every call in a loop/block


def _callable_name(function: Any) -> str:
    name = getattr(function, "__name__", None) or getattr(function, "name", None)
    return name if isinstance(name, str) else type(function).__name__


def _takes_sizes(function: Any) -> bool:
    """Whether int arguments of `function` may be sizes (so are capped), not data."""
    if isinstance(function, Macro | _FormatMethod | LoopContext):
        return False
    if any(function is known for known in (dict, Namespace, Cycler, Joiner, _capped_range)):
        return False
    owner = getattr(function, "__self__", None)
    return not isinstance(owner, Mapping | list | tuple | LoopContext | Cycler)


def _capped_range(*args: int) -> range:
    numbers = range(*args)
    try:
        too_long = len(numbers) > MAX_RANGE
    except OverflowError:
        too_long = True
    if too_long:
        raise TemplateError(f"range() is limited to {MAX_RANGE:,} items")
    return numbers


# --- filters and tests -------------------------------------------------------------------

_REMOVED_FILTERS = ("random", "pprint", "urlize", "slice")  # non-deterministic, or risky
_DATA_FILTERS = frozenset(
    {"default", "d", "format", "sum", "select", "reject", "selectattr", "rejectattr", "map"}
    | {"int", "float"}
)  # int arguments of these are values, not sizes
_CONSTANT_TIME_FILTERS = frozenset(
    {"length", "count", "first", "last", "default", "d", "attr", "abs", "round", "safe"}
)
_SCAN_COST_PER_ITEM = {"wordwrap": 50, "urlencode": 10, "sort": 20, "dictsort": 20}
_STRINGIFYING_FILTERS = frozenset(
    {"capitalize", "center", "e", "escape", "forceescape", "indent", "lower", "replace"}
    | {"safe", "string", "striptags", "title", "tojson", "trim", "truncate", "upper"}
    | {"urlencode", "wordcount", "wordwrap", "xmlattr"}
)
_COMPARISON_TESTS = frozenset(
    {"==", "!=", "<", "<=", ">", ">=", "eq", "ne", "lt", "le", "gt", "ge", "in"}
    | {"equalto", "greaterthan", "lessthan"}
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
    return len(text) + lines * len(str(wrapstring) if wrapstring is not None else "\n")


def _estimate_replace_filter(text: Any, old: Any, new: Any, count: Any = None) -> int:
    return _estimate_replace(str(text), old, new, -1 if count is None else count)


def _estimate_tojson(value: Any, indent: Any = None) -> int:
    width = len(indent) if isinstance(indent, str) else indent if _is_int(indent) else 0
    if width > _MAX_JSON_INDENT:
        raise TemplateError(f"tojson indent is limited to {_MAX_JSON_INDENT}")
    return 0


_FILTER_ESTIMATES: dict[str, Callable[..., int]] = {
    "indent": _estimate_indent,
    "wordwrap": _estimate_wordwrap,
    "replace": _estimate_replace_filter,
    "tojson": _estimate_tojson,
}


@pass_environment
def _join_filter(environment: Any, value: Iterable[Any], d: Any = "", attribute: Any = None) -> str:
    """`join`, stringifying and counting one item at a time instead of all at once."""
    separator = str(d)
    if attribute is not None:
        value = map(make_attrgetter(environment, attribute), value)
    parts: list[str] = []
    produced = 0
    for item in value:
        _check_size(item, "a join() item")
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


def _call_with_pass_arg(
    function: Callable[..., Any], context: Context, *args: Any, **kwargs: Any
) -> Any:
    """Call a Jinja filter or test with the first argument it asks for (context, env, ...)."""
    pass_arg = _PassArg.from_obj(function)
    if pass_arg is _PassArg.context:
        return function(context, *args, **kwargs)
    if pass_arg is _PassArg.eval_context:
        return function(context.eval_ctx, *args, **kwargs)
    if pass_arg is _PassArg.environment:
        return function(context.environment, *args, **kwargs)
    return function(*args, **kwargs)


def _guarded_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    estimate = _FILTER_ESTIMATES.get(name)
    scan_cost = 0 if name in _CONSTANT_TIME_FILTERS else _SCAN_COST_PER_ITEM.get(name, 1)

    @pass_context
    def guarded(context: Context, value: Any, *args: Any, **kwargs: Any) -> Any:
        budget = _budget()
        budget.charge(_STEP_COST + scan_cost * _length(value))
        if name not in _DATA_FILTERS:
            _check_int_arguments((*args, *kwargs.values()), f"filter {name!r}")
        if name in _STRINGIFYING_FILTERS and not isinstance(value, str):
            if isinstance(value, Undefined):
                str(value)  # raises the undefined error, not a confusing one from the filter
            _check_size(value, f"the input of filter {name!r}")
        if estimate is not None:
            _check_estimate(estimate(value, *args, **kwargs), f"the result of filter {name!r}")
        result = _call_with_pass_arg(function, context, value, *args, **kwargs)
        budget.charge(_check_size(result, f"the result of filter {name!r}"))
        return result

    return guarded


def _guarded_test(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    is_comparison = name in _COMPARISON_TESTS

    @pass_context
    def guarded(context: Context, value: Any, *args: Any, **kwargs: Any) -> Any:
        _budget().charge(_STEP_COST)
        if is_comparison:
            _charge_comparison(value, None)
            for argument in args:
                _charge_comparison(argument, "in" if name == "in" else None)
        return _call_with_pass_arg(function, context, value, *args, **kwargs)

    return guarded


# --- rewriting templates -----------------------------------------------------------------


class _Guards(Extension):
    """Runtime hooks that `_Hardener` inserts into every parsed template."""

    def loop(self, iterable: Iterable[Any]) -> Iterator[Any]:
        return _budget().counted(iterable)

    def concat(self, *parts: Any) -> str:
        produced = 0
        for part in parts:
            produced += len(part) if isinstance(part, str) else _size(part, MAX_OUTPUT_CHARS)
            _check_estimate(produced, "the result of '~'")
        _budget().charge(_STEP_COST + produced)
        return "".join(map(str, parts))

    def operand(self, value: Any, operator: str | None) -> Any:
        _charge_comparison(value, operator)
        return value


class _Hardener(NodeTransformer):
    """Routes loops, `~` and comparisons through `_Guards`, and refuses template loading."""

    def _guard(self, hook: str, node: nodes.Node, *args: nodes.Expr) -> nodes.Call:
        target = nodes.ExtensionAttribute(_Guards.identifier, hook, lineno=node.lineno)
        return nodes.Call(target, list(args), [], None, None, lineno=node.lineno)

    def visit_For(self, node: nodes.For) -> nodes.Node:
        node = self.generic_visit(node)
        node.iter = self._guard("loop", node, node.iter)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        node = self.generic_visit(node)
        return self._guard("concat", node, *node.nodes)

    def visit_Compare(self, node: nodes.Compare) -> nodes.Node:
        node = self.generic_visit(node)
        node.expr = self._guard("operand", node, node.expr, nodes.Const(None))
        for operand in node.ops:
            operand.expr = self._guard("operand", node, operand.expr, nodes.Const(operand.op))
        return node

    def _refuse(self, node: nodes.Node) -> nodes.Node:
        keyword = type(node).__name__.lower().replace("fromimport", "from ... import")
        raise TemplateSyntaxError(f"'{keyword}' is not supported in templates", node.lineno)

    visit_Extends = visit_Include = visit_Import = visit_FromImport = _refuse


# --- the environment ---------------------------------------------------------------------


def _describe(obj: Any) -> str:
    """A name for `obj` in messages: its path in the render context if it is there."""
    budget = _ACTIVE_BUDGET.get()
    pending: deque[tuple[str, Any]] = deque(budget.context.items() if budget else ())
    for _visited in range(10_000):
        if not pending:
            break
        path, value = pending.popleft()
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


def _is_opaque(value: Any) -> bool:
    """Functions, classes and objects whose text would show a memory address."""
    callable_types = (types.FunctionType, types.BuiltinFunctionType, types.MethodType, type)
    return isinstance(value, callable_types) or type(value).__repr__ is object.__repr__


def _plain(value: Any) -> Any:
    """Lazy sequences (generators from filters, dict views, ranges) as lists."""
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
    if _is_opaque(value):
        raise TemplateError(f"cannot print a {type(value).__name__}; call it or pick a value")
    budget.charge(_check_size(value, "an output value"))
    return value


def _capped_concat(parts: Iterable[str]) -> str:
    """Joins macro, block and `{% set %}` bodies: refuses oversize text before allocating it."""
    pieces = list(parts)
    produced = sum(map(len, pieces))
    _check_estimate(produced, "a macro or block body")
    _budget().charge(produced)
    return "".join(pieces)


class _Environment(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset(_BINOP_CHECKS)

    def __init__(self) -> None:
        super().__init__(
            undefined=_Undefined, autoescape=False, finalize=_finalize, extensions=[_Guards]
        )
        self.concat = _capped_concat  # type: ignore[method-assign]
        self.globals.pop("lipsum", None)
        self.globals["range"] = _capped_range
        for name in _REMOVED_FILTERS:
            self.filters.pop(name, None)
        self.filters.update(join=_join_filter, format=_format_filter, sum=_sum_filter)
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
        budget.charge(_check_size(result, f"the result of {operator!r}"))
        return result

    def call(self, context: Context, function: Any, /, *args: Any, **kwargs: Any) -> Any:
        owner = getattr(function, "__self__", None)
        arguments = {key: value for key, value in kwargs.items() if key not in _CALL_INTERNALS}
        if isinstance(owner, _Guards):
            return function(*args, **arguments)
        budget = _budget()
        budget.charge(_CALL_COST + _length(owner))
        name = _callable_name(function)
        if isinstance(owner, str) and name in ("format", "format_map"):
            function = self.wrap_str_format(function) or function  # e.g. via |attr('format')
        if _takes_sizes(function):
            _check_int_arguments((*args, *arguments.values()), f"{name}()")
        if isinstance(function, LoopContext) and args:  # a recursive loop's `loop(children)`
            args = (budget.counted(args[0]), *args[1:])
        if isinstance(owner, str) and name == "join" and len(args) == 1:
            result: Any = _checked_str_join(owner, args[0])
        else:
            if isinstance(owner, str) and name in _STR_METHOD_ESTIMATES:
                estimate = _STR_METHOD_ESTIMATES[name](owner, *args, **arguments)
                _check_estimate(estimate, f"the result of {name}()")
            result = super().call(context, function, *args, **kwargs)
        budget.charge(_check_size(result, f"the result of {name}()"))
        return result

    def getattr(self, obj: Any, attribute: str) -> Any:
        _budget().charge(_LOOKUP_COST)
        if isinstance(obj, dict) and attribute in obj:
            return obj[attribute]  # JSON keys such as `items` or `count` win over dict methods
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        budget = _budget()
        budget.charge(_LOOKUP_COST)
        result = super().getitem(obj, argument)
        if isinstance(argument, slice):
            budget.charge(_length(result))
        return result

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
    """The whole source is one `{{ expression }}` (give or take whitespace): keep its type."""


def _syntax_message(error: TemplateSyntaxError) -> str:
    return _one_line(f"line {error.lineno}: {error.message}")


def _one_line(message: str) -> str:
    return " ".join(message.split())


def _is_single_expression(template: nodes.Template) -> bool:
    if len(template.body) != 1 or not isinstance(template.body[0], nodes.Output):
        return False
    children = template.body[0].nodes
    data = [child for child in children if isinstance(child, nodes.TemplateData)]
    return len(children) - len(data) == 1 and all(not child.data.strip() for child in data)


def _parse(source: str) -> nodes.Template:
    try:
        return _ENV.parse(source)
    except TemplateSyntaxError as error:
        raise TemplateError(_syntax_message(error)) from None
    except (RecursionError, MemoryError):
        raise TemplateError("template is nested too deeply") from None


@functools.lru_cache(maxsize=512)
def _compile(source: str) -> _Compiled:
    template = _parse(source)
    single_expression = _is_single_expression(template)
    try:
        return _Compiled(_ENV.from_string(template), single_expression)
    except TemplateSyntaxError as error:
        raise TemplateError(_syntax_message(error)) from None
    except (RecursionError, MemoryError, SyntaxError):
        raise TemplateError("template is nested too deeply") from None


# --- rendering ---------------------------------------------------------------------------


def _json_compatible(value: Any, depth: int = 0) -> Any:
    """A native result as JSON data: tuples and lazy sequences become lists."""
    if depth > MAX_NESTING:
        raise TemplateError(f"result is nested more than {MAX_NESTING} levels deep")
    value = _plain(value)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        if value.bit_length() > MAX_INT_BITS:
            raise TemplateError(f"result is an integer over {MAX_INT_BITS:,} bits")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise TemplateError(f"result {value} is not a JSON number")
        return value
    if isinstance(value, list | tuple):
        return [_json_compatible(item, depth + 1) for item in value]
    if isinstance(value, Mapping):
        if not all(isinstance(key, str) for key in value):
            raise TemplateError("result is a dict with keys that are not strings")
        return {key: _json_compatible(item, depth + 1) for key, item in value.items()}
    raise TemplateError(f"result is a {type(value).__name__}, not JSON data")


def _render_text(compiled: _Compiled, context: Mapping[str, Any]) -> str:
    chunks: list[str] = []
    produced = 0
    for chunk in compiled.template.generate(context):
        produced += len(chunk)
        if produced > MAX_OUTPUT_CHARS:
            raise TemplateError(f"output exceeds {MAX_OUTPUT_CHARS:,} characters")
        chunks.append(chunk)
    return "".join(chunks)


def _render_native(compiled: _Compiled, context: Mapping[str, Any], budget: _Budget) -> Any:
    budget.capture_native = True
    try:
        for _whitespace in compiled.template.generate(context):
            pass
    finally:
        budget.capture_native = False
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
        message = "recursion is too deep (a macro or loop calling itself?)"
    elif isinstance(error, MemoryError):
        message = "template ran out of memory"
    else:
        message = f"{type(error).__name__}: {error}"
    line = _template_line(error)
    if line is not None and "\n" in source.strip():
        message = f"line {line}: {message}"
    return _one_line(message)


def _render_string(source: str, context: Mapping[str, Any], budget: _Budget) -> Any:
    compiled = _compile(source)
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
            return _render_string(value, context, budget)
        except TemplateError as error:
            raise TemplateError(str(error), path) from None
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
    """Raise TemplateError (with the line) if `source` does not parse or compile, e.g. when it
    uses an unknown filter."""
    _compile(source)


def referenced_names(source: str) -> set[str]:
    """Top-level names `source` reads from its context (`inputs`, `nodes`, `item`...)."""
    template = _parse(source)
    try:
        names = meta.find_undeclared_variables(template)
    except TemplateSyntaxError as error:
        raise TemplateError(_syntax_message(error)) from None
    return names - set(_ENV.globals)


def referenced_nodes(source: str) -> set[str]:
    """Node ids that `source` reads as `nodes.<id>` or `nodes['<id>']`."""
    found: set[str] = set()
    for node in _parse(source).find_all((nodes.Getattr, nodes.Getitem)):
        if not (isinstance(node.node, nodes.Name) and node.node.name == "nodes"):
            continue
        if isinstance(node, nodes.Getattr):
            found.add(node.attr)
        elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            found.add(node.arg.value)
    return found


def render_value(value: Any, context: Mapping[str, Any]) -> Any:
    """Render every template string in a JSON-like `value`; dict keys are left alone.

    A string that is exactly one `{{ expression }}` keeps the expression's JSON type (a list
    stays a list); any other template renders to a str. All failures raise TemplateError."""
    budget = _Budget(context)
    token = _ACTIVE_BUDGET.set(budget)
    try:
        return _render_tree(value, context, budget, "")
    except RecursionError:
        raise TemplateError("value is nested too deeply") from None
    finally:
        _ACTIVE_BUDGET.reset(token)
