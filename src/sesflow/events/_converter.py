"""The one cattrs converter, and the generated structuring code behind it.

Parsing is the hot path of every consumer, so structuring is not left to cattrs' generic dispatch: for each
model class, ``_generate`` writes a specialised function from the attrs fields (their SES keys and
types) once at import. The function checks each value's type inline, builds the instance positionally and
carries no path bookkeeping on the happy path; when something is wrong it raises ``Invalid`` and the
path of the failing field is assembled while the exception unwinds (``try`` is free in CPython >= 3.11 until
it catches). The generated functions are registered as the converter's structure hooks, so
``converter.structure(data, Bounce)`` and ``sesflow.parse_event`` share them.

Unstructuring (``to_dict``) uses cattrs' own generated functions, renamed to SES's keys, omitting ``None``.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, NoReturn

import attrs
import cattrs
from cattrs.gen import make_dict_unstructure_fn, override

from ..errors import ParseError
from . import models
from .enums import OpenEnum

__all__ = ["Invalid", "converter", "format_timestamp", "parse_timestamp", "structure_fn"]


class Invalid(Exception):
    """Internal: a value of the wrong shape; ``path`` grows as it unwinds to ``sesflow.parse_event``."""

    def __init__(self, reason: str, *path: str | int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.path: list[str | int] = list(path)


_fromiso = datetime.fromisoformat

# What a timestamp may look like: the RFC 3339 profile of ISO 8601 (what SES writes is one case of it:
# 2016-01-27T14:59:38.237Z), and the same without an offset (taken as UTC). datetime.fromisoformat alone
# would also take week dates, basic formats, any separator ("2016-01-28.23"), a comma or offsets like +0100.
_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:Z|[+-][0-9]{2}:[0-9]{2})?"
).fullmatch


def is_timestamp(value: str) -> bool:
    """Whether ``value`` has the shape of a timestamp (see ``_TIMESTAMP``); its values are not checked here.

    SES's own shape is recognised from its fixed characters (one slice and two comparisons: the parser's hot
    path), and ``datetime.fromisoformat`` then checks its digits; anything else goes to the pattern.
    """
    return (len(value) == 24 and value[23] == "Z" and value[4:20:3] == "--T::.") or _TIMESTAMP(
        value
    ) is not None


def parse_timestamp(value: object) -> datetime:
    """An ISO 8601 timestamp as an aware datetime; a timestamp without offset is taken as UTC."""
    if type(value) is not str:
        raise Invalid(f"expected an ISO 8601 timestamp string, got {type(value).__name__}")
    if not is_timestamp(value):
        raise Invalid(f"not an ISO 8601 timestamp: {value[:64]!r}")
    try:
        dt = _fromiso(value)
    except ValueError:
        raise Invalid(f"not an ISO 8601 timestamp: {value[:64]!r}") from None
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


_ARRAY_TIME_FIELDS = ("year", "month", "day", "hour", "minute", "second", "nanosecond")


def parse_time_array(value: object) -> datetime:
    """A timestamp SES wrote as an array, ``[2025, 7, 24, 12, 44, 28, 995000000]`` (year to nanosecond, UTC;
    trailing parts left out when zero), or as ISO 8601 text; an aware datetime (microseconds: nanoseconds
    are truncated)."""
    if type(value) is str:
        return parse_timestamp(value)
    if type(value) is not list:
        raise Invalid(
            f"expected a timestamp (an array of integers or ISO 8601 text), got {type(value).__name__}"
        )
    if not 5 <= len(value) <= 7:
        raise Invalid(f"expected 5 to 7 integers (year to nanosecond), got {len(value)}")
    for index, part in enumerate(value):
        if type(part) is not int:
            raise Invalid(
                f"expected an integer ({_ARRAY_TIME_FIELDS[index]}), got {type(part).__name__}", index
            )
    parts = [*value, 0, 0][:7]
    if not 0 <= parts[6] < 1_000_000_000:
        raise Invalid(f"nanosecond {parts[6]} is not between 0 and 999999999", 6)
    try:
        year, month, day, hour, minute, second, nanosecond = parts
        return datetime(year, month, day, hour, minute, second, nanosecond // 1000, tzinfo=UTC)
    except (ValueError, OverflowError) as exc:
        raise Invalid(f"not a date and time: {exc}") from None


def format_timestamp(dt: datetime) -> str:
    """SES's own timestamp format: UTC, milliseconds, ``Z``.

    An instant that has no UTC representation within ``datetime``'s range (year 1 or 9999 with an offset)
    keeps its own offset instead, so that it still reads back as the same instant.
    """
    if dt.utcoffset():
        try:
            dt = dt.astimezone(UTC)
        except OverflowError:
            return dt.isoformat(timespec="milliseconds")
    # Not strftime: its %Y does not pad years before 1000 to four digits, which fromisoformat requires.
    return (
        f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d}."
        f"{dt.microsecond // 1000:03d}Z"
    )


def _tags(value: object) -> models.Tags:
    if type(value) is not dict:
        raise Invalid(f"expected an object of lists, got {type(value).__name__}")
    out = {}
    for name, values in value.items():
        if type(name) is not str:  # only a mapping passed in can have another kind of key
            raise Invalid(f"expected a string key, got {type(name).__name__}")
        if type(values) is not list:
            raise Invalid(f"expected a list of strings, got {type(values).__name__}", name)
        for item in values:
            if type(item) is not str:
                index = next(i for i, v in enumerate(values) if type(v) is not str)
                raise Invalid(f"expected a string, got {type(item).__name__}", name, index)
        out[name] = tuple(values)
    return models.Tags(out)


def lazy_structurer(key: str, model: Any) -> Callable[[Any], Any]:
    """The function that structures one lazily kept part of ``mail`` (made once per field).

    It raises ``ParseError`` naming ``mail.<key>...``; the error's ``raw`` is that field's raw value.
    """
    if model is models.Tags:
        inner: Callable[[Any], Any] = _tags
    elif attrs.has(model):
        inner = structure_fn(model)
    else:  # tuple[Header, ...]
        item_fn = structure_fn(typing.get_args(model)[0])

        def inner(raw: Any) -> tuple[Any, ...]:
            if type(raw) is not list:
                raise Invalid(f"expected a list, got {type(raw).__name__}")
            try:
                return tuple(map(item_fn, raw))
            except Invalid as e:
                e.path.insert(0, _index_of_failure(item_fn, raw))
                raise

    def structure(raw: Any) -> Any:
        try:
            return inner(raw)
        except Invalid as e:
            e.path[:0] = ("mail", key)
            raise ParseError(e.reason, raw=raw, path=e.path) from None

    return structure


def structure_lazy(raw: Any, key: str, model: Any) -> Any:
    """Structure a lazily kept part of ``mail`` (see ``lazy_structurer``)."""
    return lazy_structurer(key, model)(raw)


_structure_fns: dict[type, Callable[[Any], Any]] = {}


def structure_fn(cls: type[Any]) -> Callable[[Any], Any]:
    """The generated structuring function of a model class (generated on first use)."""
    fn = _structure_fns.get(cls)
    if fn is None:
        fn = _structure_fns[cls] = _generate(cls)
    return fn


_SCALARS = {str: ("str", "a string"), int: ("int", "an integer"), bool: ("bool", "a boolean")}


def _fail(value: object, key: str, expected: str) -> NoReturn:
    if value is _MISSING:
        raise Invalid("required field is missing", key)
    raise Invalid(f"expected {expected}, got {type(value).__name__}", key)


_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1


def _out_of_range(key: str) -> NoReturn:
    raise Invalid("integer out of range: more than 64 bits", key)


def _bad_timestamp(value: str, key: str) -> NoReturn:
    raise Invalid(f"not an ISO 8601 timestamp: {value[:64]!r}", key)


def _bad_item(items: list[Any], key: str) -> NoReturn:
    index = next(i for i, item in enumerate(items) if type(item) is not str)
    raise Invalid(f"expected a string, got {type(items[index]).__name__}", key, index)


def _generate(cls: type[Any]) -> Callable[[Any], Any]:
    """Write, compile and return ``structure_<Class>(d) -> Class`` for an attrs model.

    Every check is inline and the happy path calls nothing but ``dict.get`` and the constructor; the
    helpers named ``_fail``/``_bad_*`` only run to raise.
    """
    hints = typing.get_type_hints(cls)
    ns: dict[str, Any] = {
        "Invalid": Invalid,
        "cls": cls,
        "MISSING": _MISSING,
        "fail": _fail,
        "bad_timestamp": _bad_timestamp,
        "out_of_range": _out_of_range,
        "bad_item": _bad_item,
        "fromiso": datetime.fromisoformat,
        "parse_timestamp": parse_timestamp,
        "parse_time_array": parse_time_array,
        "index_of_failure": _index_of_failure,
        "new": object.__new__,
    }
    lines = [
        f"def structure_{cls.__name__}(d):",
        "    if type(d) is not dict:",
        "        raise Invalid('expected an object, got ' + type(d).__name__)",
        "    get = d.get",
    ]
    setters: list[str] = []
    for n, field in enumerate(attrs.fields(cls)):
        key = field.metadata["ses"]
        var = f"v{n}"
        tp = hints[field.name]
        optional = field.default is not attrs.NOTHING
        if typing.get_origin(tp) in (typing.Union, types.UnionType):
            (tp,) = [a for a in typing.get_args(tp) if a is not type(None)]
        lazy = field.metadata.get("lazy")
        if lazy is not None:  # kept raw after a shape check; structured on first read (see models.Mail)
            shape = "dict" if lazy is models.Tags or attrs.has(lazy) else "list"
            what = "an object" if shape == "dict" else "a list"
            block = [f"if type({var}) is not {shape}:", f"    fail({var}, {key!r}, {what!r})"]
        elif field.metadata.get("time_array"):  # an array of integers, or ISO text (see parse_time_array)
            block = [
                "try:",
                f"    {var} = parse_time_array({var})",
                "except Invalid as e:",
                f"    e.path.insert(0, {key!r})",
                "    raise",
            ]
        else:
            block = _convert_lines(var, tp, key, ns, n)
        if optional:
            lines.append(f"    {var} = get({key!r})")
            lines.append(f"    if {var} is not None:")
            lines.extend("        " + line for line in block)
        else:
            # d[key] is a specialised bytecode, cheaper than calling get(); try is free until it catches.
            lines.extend(
                [
                    "    try:",
                    f"        {var} = d[{key!r}]",
                    "    except KeyError:",
                    f"        {var} = MISSING",
                ]
            )
            lines.extend("    " + line for line in block)
        ns[f"set{n}"] = getattr(cls, field.name).__set__
        setters.append(f"    set{n}(o, {var})")
    # The models have no validators or converters, and every value was checked above, so the instance is
    # built by filling its slots directly: about 40% cheaper than calling the frozen class's __init__.
    lines.append("    o = new(cls)")
    lines.extend(setters)
    lines.append("    return o")
    source = "\n".join(lines) + "\n"
    code = compile(source, f"<sesflow structure {cls.__name__}>", "exec")
    exec(code, ns)
    fn: Callable[[Any], Any] = ns[f"structure_{cls.__name__}"]
    fn.__doc__ = f"Structure an SES ``{cls.__name__}`` object (generated).\n\n{source}"
    return fn


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


_MISSING = _Missing()


def _convert_lines(var: str, tp: Any, key: str, ns: dict[str, Any], n: int) -> list[str]:
    """Statements that check ``var`` against ``tp`` and rebind it to the converted value."""
    k = repr(key)
    if tp in _SCALARS:
        # Exact type: bool is an int subclass, and SES never sends one where it means the other.
        name, expected = _SCALARS[tp]
        lines = [f"if type({var}) is not {name}:", f"    fail({var}, {k}, {expected!r})"]
        if tp is int:  # what a JSON decoder gives as an int (see _json): a mapping must not hold more
            lines += [f"if not {_INT_MIN} <= {var} <= {_INT_MAX}:", f"    out_of_range({k})"]
        return lines
    if tp is datetime:
        # SES's own shape, recognised by its fixed characters (see is_timestamp), on the hot path; anything
        # else through parse_timestamp and its pattern.
        return [
            f"if type({var}) is not str:",
            f"    fail({var}, {k}, 'an ISO 8601 timestamp string')",
            f"if len({var}) == 24 and {var}[23] == 'Z' and {var}[4:20:3] == '--T::.':",
            "    try:",
            f"        {var} = fromiso({var})",
            "    except ValueError:",
            f"        bad_timestamp({var}, {k})",
            "else:",
            "    try:",
            f"        {var} = parse_timestamp({var})",
            "    except Invalid as e:",
            f"        e.path.insert(0, {k})",
            "        raise",
        ]
    if isinstance(tp, type) and issubclass(tp, OpenEnum):
        ns[f"known{n}"] = {m.value: m for m in tp}
        ns[f"enum{n}"] = tp
        return [
            f"if type({var}) is not str:",
            f"    fail({var}, {k}, 'a string')",
            f"{var} = known{n}.get({var}) or enum{n}({var})",
        ]
    if typing.get_origin(tp) is tuple:
        (item, _ellipsis) = typing.get_args(tp)
        if item is str:
            check = [
                f"if type({var}) is not list:",
                f"    fail({var}, {k}, 'a list of strings')",
                f"for x in {var}:",
                "    if type(x) is not str:",
                f"        bad_item({var}, {k})",
                f"{var} = tuple({var})",
            ]
            if key == "sender":  # CommonHeaders.sender has been seen as a string too; kept as a tuple
                return [f"if type({var}) is str:", f"    {var} = ({var},)", "else:"] + [
                    "    " + line for line in check
                ]
            return check
        ns[f"item{n}"] = structure_fn(item)
        return [
            f"if type({var}) is not list:",
            f"    fail({var}, {k}, 'a list')",
            "try:",
            f"    {var} = tuple(map(item{n}, {var}))",
            "except Invalid as e:",
            f"    e.path[:0] = ({k}, index_of_failure(item{n}, {var}))",
            "    raise",
        ]
    helper: Callable[[Any], Any]
    if attrs.has(tp):
        helper = structure_fn(tp)
    elif tp is models.Tags:
        helper = _tags
    else:  # pragma: no cover - a model field of a type the generator does not know is a bug here
        raise TypeError(f"cannot generate structuring code for {tp!r}")
    ns[f"conv{n}"] = helper
    return [
        f"if {var} is MISSING:",
        f"    fail({var}, {k}, 'an object')",
        "try:",
        f"    {var} = conv{n}({var})",
        "except Invalid as e:",
        f"    e.path.insert(0, {k})",
        "    raise",
    ]


def _index_of_failure(fn: Callable[[Any], Any], items: list[Any]) -> int:
    for i, item in enumerate(items):
        try:
            fn(item)
        except Invalid:
            return i
    return -1  # pragma: no cover - only called after one of them failed


# --- the converter ----------------------------------------------------------------------------------------

converter = cattrs.Converter()
"""sesflow's one cattrs converter: SES JSON shapes <-> models, in both directions."""

_MODEL_CLASSES = [
    getattr(models, name)
    for name in models.__all__
    if attrs.has(getattr(models, name))
    and not issubclass(getattr(models, name), (models.SesEvent, models.ControlMessage))
]


def _unstructure_tuple(value: tuple[Any, ...]) -> list[Any]:
    return [converter.unstructure(v) for v in value]


def _unstructure_tags(tags: models.Tags) -> dict[str, list[str]]:
    return {name: list(values) for name, values in tags.items()}


def _is_tuple_type(tp: Any) -> bool:
    return tp is tuple or typing.get_origin(tp) is tuple


def _unstructure_enum(member: OpenEnum) -> str:
    # The plain string: an enum member (a str subclass) is not what json.loads gives, and parse_event
    # checks for exact str, so leaving members in would break parse_event(to_dict(event)).
    return str.__str__(member)


converter.register_unstructure_hook(datetime, format_timestamp)


def _structure_datetime(value: Any, _type: Any) -> datetime:
    try:
        return parse_timestamp(value)
    except Invalid as e:
        raise ParseError(e.reason, raw=value, path=e.path) from None


converter.register_structure_hook(datetime, _structure_datetime)
converter.register_unstructure_hook(OpenEnum, _unstructure_enum)  # and so every subclass
converter.register_unstructure_hook(models.Tags, _unstructure_tags)
converter.register_unstructure_hook_func(_is_tuple_type, _unstructure_tuple)


def _structure_hook(cls: type[Any]) -> Callable[[Any, Any], Any]:
    fn = structure_fn(cls)

    # converter.structure(data, Model) raises ParseError, as parse_event does (the generated functions call
    # each other directly, so this wrapping happens once, at the top).
    def structure(data: Any, _type: Any) -> Any:
        try:
            return fn(data)
        except Invalid as e:
            raise ParseError(e.reason, raw=data, path=e.path) from None
        except RecursionError:
            raise ParseError("nested too deeply", raw=data) from None

    return structure


for _cls in _MODEL_CLASSES:
    converter.register_structure_hook(_cls, _structure_hook(_cls))


def _make_unstructure_fn(cls: type[Any]) -> Callable[[Any], dict[str, Any]]:
    renames = {}
    for f in attrs.fields(cls):
        lazy = f.metadata.get("lazy")
        if lazy is None:
            renames[f.name] = override(rename=f.metadata["ses"])
        else:  # the slot may still hold the raw value: read it through the model's property
            key = f.metadata["ses"]
            hook = _lazy_unstructure_hook(key, lazy)
            renames[f.name] = override(rename=key, unstruct_hook=hook)
    fn: Callable[[Any], dict[str, Any]] = make_dict_unstructure_fn(
        cls,
        converter,
        _cattrs_omit_if_default=True,
        **renames,  # type: ignore[arg-type]
    )
    return fn


def _lazy_unstructure_hook(key: str, model: Any) -> Callable[[Any], Any]:
    def unstructure(value: Any) -> Any:
        if type(value) is dict or type(value) is list:
            value = structure_lazy(value, key, model)
        return converter.unstructure(value, model)

    return unstructure


# A factory, so each class's function is made on first use, after the hooks of the classes it contains.
converter.register_unstructure_hook_factory(lambda t: t in _MODEL_CLASSES, _make_unstructure_fn)


# Mail's lazy properties call these directly: one prepared function per field, no lookups per read.
models.LAZY_STRUCTURERS.update(
    {
        f.name: lazy_structurer(f.metadata["ses"], f.metadata["lazy"])
        for f in attrs.fields(models.Mail)
        if "lazy" in f.metadata
    }
)
