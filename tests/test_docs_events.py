"""docs/events.md lists every model class, field, SES key, event type and enum value, so it cannot drift."""

from __future__ import annotations

import re
import typing
from pathlib import Path
from typing import Any

import attrs
import pytest

from sesflow import events
from sesflow.events import EVENT_CLASSES, OpenEnum

PAGE = Path(__file__).resolve().parents[1] / "docs" / "events.md"
# Every attrs class sesflow.events exports: a new one without a section on the page fails.
MODEL_CLASSES = [getattr(events, name) for name in events.__all__ if attrs.has(getattr(events, name))]


@pytest.fixture(scope="module")
def page() -> str:
    return PAGE.read_text(encoding="utf-8")


def _section(page: str, name: str) -> str:
    """The text under the ``#### name`` heading, up to the next heading."""
    match = re.search(rf"^#### {re.escape(name)}\n(.*?)(?=^#)", page, re.MULTILINE | re.DOTALL)
    assert match is not None, f"docs/events.md has no '#### {name}' section"
    return match.group(1)


def _rows(section: str) -> dict[str, list[str]]:
    """Table rows of a section by attribute name: the cells after the first."""
    rows = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("| `") and len(cells) == 4:
            rows[cells[0].strip("`")] = cells[1:]
    return rows


def _own_fields(cls: type[Any]) -> list[attrs.Attribute[Any]]:
    base = cls.__mro__[1]
    inherited = {f.name for f in attrs.fields(base)} if attrs.has(base) else set()
    return [f for f in attrs.fields(cls) if f.name not in inherited]


def _type_name(tp: Any) -> str:
    text = tp.__name__ if isinstance(tp, type) else str(tp)
    for prefix in ("sesflow.events.", "sesflow.", "collections.abc.", "typing."):
        text = text.replace(prefix, "")
    return text.replace("datetime.datetime", "datetime").replace(" | None", "")


@pytest.mark.parametrize("cls", MODEL_CLASSES, ids=lambda cls: cls.__name__)
def test_every_field_is_documented_with_its_ses_key(page: str, cls: type[Any]) -> None:
    rows = _rows(_section(page, cls.__name__))
    fields = _own_fields(cls)
    hints = typing.get_type_hints(cls)
    assert set(rows) == {str(f.alias) for f in fields}, "rows must match the fields exactly"
    for f in fields:
        ses_key, type_cell, optional = rows[str(f.alias)]
        if "ses" in f.metadata:
            assert ses_key == f"`{f.metadata['ses']}`", f"{cls.__name__}.{f.alias}: SES key"
        lazy = f.metadata.get("lazy")
        expected_type = _type_name(lazy if lazy is not None else hints[f.name])
        assert type_cell == f"`{expected_type}`", f"{cls.__name__}.{f.alias}: type"
        assert optional.startswith("yes" if f.default is None else "no"), f"{cls.__name__}.{f.alias}"
        assert ("(lazy)" in optional) == (lazy is not None), f"{cls.__name__}.{f.alias}: lazy"


@pytest.mark.parametrize("cls", EVENT_CLASSES, ids=lambda cls: cls.__name__)
def test_event_type_table(page: str, cls: type[events.SesEvent]) -> None:
    detail_attr = next(f.alias for f in attrs.fields(cls) if f.metadata.get("ses") == cls.DETAIL_KEY)
    row = f"| `{cls.EVENT_TYPE.value}` | `{cls.__name__}` | `{detail_attr}` | `{cls.DETAIL_KEY}` | `Email "
    assert row in page


OPEN_ENUMS = [
    getattr(events, name)
    for name in events.__all__
    if isinstance(getattr(events, name), type)
    and issubclass(getattr(events, name), OpenEnum)
    and getattr(events, name) is not OpenEnum
]


@pytest.mark.parametrize("enum", OPEN_ENUMS, ids=lambda enum: enum.__name__)
def test_every_known_enum_value_is_listed(page: str, enum: type[OpenEnum]) -> None:
    row = next((line for line in page.splitlines() if line.startswith(f"| `{enum.__name__}` |")), None)
    assert row is not None, f"no row for {enum.__name__} in the open enums table"
    if enum is events.EventType:
        return  # its row refers to the event type table, checked above
    for member in enum:
        assert f"`{member.value}`" in row, f"{enum.__name__}.{member.name}"
