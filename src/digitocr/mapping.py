"""Dataclasses to plain JSON-ready mappings and back, driven by their type hints.

One (de)serialiser for every configuration the tool stores (model.json, a run's state, a glyph bank,
generator options): nested dataclasses, optional values, tuples, lists, dicts and paths. Reading checks
what it reads against the hints, so a hand-edited or damaged file is a one-line `UserError` naming the
field, not a `TypeError` from deep inside.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from pathlib import Path, PurePath
from typing import Any, ClassVar, Self, TypeVar

from digitocr.errors import UserError

T = TypeVar("T")


def to_mapping(value: Any) -> Any:
    """Dataclasses as dicts of their init fields, tuples as lists, paths as strings, recursively."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: to_mapping(getattr(value, field.name))
                for field in dataclasses.fields(value) if field.init}
    if isinstance(value, list | tuple):
        return [to_mapping(item) for item in value]
    if isinstance(value, dict):
        return {str(key): to_mapping(item) for key, item in value.items()}
    if isinstance(value, PurePath):
        return str(value)
    return value


def from_mapping(cls: type[T], mapping: Any, what: str | None = None) -> T:
    """An instance of the dataclass `cls` from `to_mapping`'s output (or a hand-written equivalent):
    absent fields take their defaults, unknown ones are refused; `what` names it in errors."""
    what = what or getattr(cls, "MAPPING_NAME", None) or cls.__name__
    if not isinstance(mapping, Mapping):
        raise UserError(f"{what}: expected a table of options, got {mapping!r:.60}")
    hints = typing.get_type_hints(cls)
    known = {field.name for field in dataclasses.fields(cls) if field.init}  # type: ignore[arg-type]
    unknown = sorted(set(mapping) - known)
    if unknown:
        raise UserError(f"unknown {what} option(s): {', '.join(map(str, unknown))}")
    values = {name: _convert(hints[name], value, f"{what}: {name}") for name, value in mapping.items()}
    return cls(**values)


def _convert(hint: Any, value: Any, where: str) -> Any:
    origin, arguments = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in arguments:
            return None
        for option in (argument for argument in arguments if argument is not type(None)):
            try:
                return _convert(option, value, where)
            except UserError:
                continue
        raise UserError(f"{where}: {value!r:.60} is not {_describe(hint)}")
    if origin is typing.Literal:
        if value in arguments:
            return value
        raise UserError(f"{where}: expected one of {', '.join(map(repr, arguments))}, got {value!r:.60}")
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return from_mapping(hint, value, where)
    if origin in (tuple, list):
        if not isinstance(value, list | tuple):
            raise UserError(f"{where}: expected a list, got {value!r:.60}")
        if origin is list or (len(arguments) == 2 and arguments[1] is Ellipsis):
            items = [_convert(arguments[0] if arguments else Any, item, where) for item in value]
            return items if origin is list else tuple(items)
        if len(arguments) != len(value):
            raise UserError(f"{where}: expected {len(arguments)} values, got {value!r:.60}")
        return tuple(_convert(argument, item, where) for argument, item in zip(arguments, value))
    if origin is dict:
        if not isinstance(value, Mapping):
            raise UserError(f"{where}: expected a table, got {value!r:.60}")
        value_hint = arguments[1] if arguments else Any
        return {key: _convert(value_hint, item, where) for key, item in value.items()}
    return _scalar(hint, value, where)


def _scalar(hint: Any, value: Any, where: str) -> Any:
    if hint in (Path, PurePath):
        if isinstance(value, str | PurePath):
            return Path(value)
    elif hint is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif hint in (str, bool) or hint is type(None) or isinstance(hint, type):
        if isinstance(value, hint):
            return value
    else:
        return value
    raise UserError(f"{where}: expected {_describe(hint)}, got {value!r:.60}")


def _describe(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


def field_default(cls: type, name: str) -> Any:
    """The default of a dataclass field (its factory's product when it has one), for CLI defaults."""
    for field in dataclasses.fields(cls):
        if field.name == name:
            if field.default is not dataclasses.MISSING:
                return field.default
            if field.default_factory is not dataclasses.MISSING:
                return field.default_factory()
            raise ValueError(f"{cls.__name__}.{name} has no default")
    raise ValueError(f"{cls.__name__} has no field {name!r}")


class Mapped:
    """`to_mapping()` and `from_mapping()` for a dataclass, through the generic functions above."""

    MAPPING_NAME: ClassVar[str] = ""  # what errors call it ("preprocessing options", ...)

    def to_mapping(self) -> dict[str, Any]:
        return typing.cast(dict[str, Any], to_mapping(self))

    @classmethod
    def from_mapping(cls, mapping: Any) -> Self:
        return from_mapping(cls, mapping)
