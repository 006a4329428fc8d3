"""The tenant of an event, the tenant suppression bounce subtype, and the bot flag of opens and clicks.

AWS documents how an event names its tenant as a ``ses:tenant-name`` tag in ``mail.tags`` ("Using tenant-level
suppression lists in Amazon SES"); the event contents pages list no tenant field. The records in
tests/data/tenants are built after AWS's examples (see the README there).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from sesflow import ParseError, parse_event, to_dict
from sesflow.events import (
    EVENT_CLASSES,
    TENANT_TAG,
    BotLikelihood,
    BounceEvent,
    BounceSubType,
    BounceType,
    ClickEvent,
    OpenEvent,
    SesEvent,
    Tags,
)

from .conftest import DATA, load

TENANTS = DATA / "tenants"
EVENT_VECTORS = sorted(p.name for p in DATA.glob("event_*.json"))
NOTIFICATION_VECTORS = sorted(p.name for p in DATA.glob("notification_*.json"))


def tenant_record(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((TENANTS / name).read_text(encoding="utf-8"))
    return data


def with_tags(record: dict[str, Any], **tags: Any) -> dict[str, Any]:
    out = copy.deepcopy(record)
    out["mail"].setdefault("tags", {}).update(tags)
    return out


def test_the_vectors_cover_every_event_type() -> None:
    assert len(EVENT_VECTORS) == len(EVENT_CLASSES)


@pytest.mark.parametrize("name", EVENT_VECTORS)
def test_every_event_type_names_its_tenant_from_the_tag(name: str) -> None:
    record = with_tags(load(name), **{TENANT_TAG: ["acme"]})
    event = parse_event(record)
    assert isinstance(event, SesEvent)
    assert event.tenant == "acme"
    assert event.mail.tenant == "acme"
    assert event.tags[TENANT_TAG] == ("acme",)
    # The tag is kept as SES sent it, so it comes back from to_dict and survives another parse.
    assert to_dict(event)["mail"]["tags"][TENANT_TAG] == ["acme"]
    assert parse_event(to_dict(event)).tenant == "acme"  # type: ignore[union-attr]


@pytest.mark.parametrize("name", EVENT_VECTORS)
def test_a_message_sent_for_no_tenant_has_none(name: str) -> None:
    event = parse_event(load(name))
    assert isinstance(event, SesEvent)
    assert TENANT_TAG not in event.tags
    assert event.tenant is None


@pytest.mark.parametrize("name", NOTIFICATION_VECTORS)
def test_feedback_notifications_carry_no_tags_and_so_no_tenant(name: str) -> None:
    event = parse_event(load(name))
    assert isinstance(event, SesEvent)
    assert event.mail.tags is None
    assert event.tenant is None


@pytest.mark.parametrize(
    ("values", "expected"),
    [(["acme", "other"], "acme"), ([], None), (["tenant_2-b"], "tenant_2-b")],
)
def test_the_tenant_is_the_first_value_of_the_tag(values: list[str], expected: str | None) -> None:
    event = parse_event(with_tags(load("event_04_Send.json"), **{TENANT_TAG: values}))
    assert isinstance(event, SesEvent)
    assert event.tenant == expected


def test_reading_the_tenant_structures_the_tags_once_and_only_then() -> None:
    event = parse_event(tenant_record("bounce_tenant_suppression.json"))
    assert isinstance(event, BounceEvent)
    assert type(event.mail._tags) is dict  # parsing left the tags as SES sent them
    assert event.tenant == "acme"
    tags = event.mail._tags
    assert type(tags) is Tags  # structured on that first read, and kept
    assert event.tenant == "acme"
    assert event.mail._tags is tags


@pytest.mark.parametrize(
    ("tags", "location"),
    [
        ({TENANT_TAG: "acme"}, f"mail.tags.{TENANT_TAG}"),
        ({TENANT_TAG: [7]}, f"mail.tags.{TENANT_TAG}[0]"),
        ({TENANT_TAG: [None]}, f"mail.tags.{TENANT_TAG}[0]"),
        ({TENANT_TAG: ["acme"], "order": {"no": "list"}}, "mail.tags.order"),
    ],
)
def test_a_malformed_tag_makes_the_tenant_a_parse_error_and_nothing_else_fails(
    tags: dict[str, Any], location: str
) -> None:
    record = load("event_01_Bounce.json")
    record["mail"]["tags"] = tags
    event = parse_event(record)  # tags are checked when first read, not here
    assert isinstance(event, BounceEvent)
    with pytest.raises(ParseError) as caught:
        _ = event.tenant
    assert caught.value.location == location
    assert "invalid" in repr(event)  # repr and hash never raise
    assert hash(event) == hash(parse_event(record))
    with pytest.raises(ParseError):
        _ = event == parse_event(record)
    with pytest.raises(ParseError):
        to_dict(event)


# --- the tenant's suppression list --------------------------------------------------------------------------


def test_the_tenant_suppression_bounce() -> None:
    record = tenant_record("bounce_tenant_suppression.json")
    event = parse_event(record)
    assert isinstance(event, BounceEvent)
    subtype = event.bounce.bounce_sub_type
    assert subtype is BounceSubType.ON_TENANT_SUPPRESSION_LIST
    assert subtype == "OnTenantSuppressionList"
    assert subtype.is_known
    assert event.bounce.bounce_type is BounceType.PERMANENT
    assert event.should_suppress
    assert event.tenant == "acme"
    assert event.configuration_set == "acme-transactional"
    assert event.recipients == ("jane@example.org",)
    assert "suppression list for your tenant" in (event.bounce.bounced_recipients[0].diagnostic_code or "")
    assert to_dict(event) == record


def test_bounce_subtypes_still_include_the_account_list() -> None:
    assert BounceSubType("OnAccountSuppressionList") is BounceSubType.ON_ACCOUNT_SUPPRESSION_LIST
    assert BounceSubType("OnTenantSuppressionList") is not BounceSubType.ON_ACCOUNT_SUPPRESSION_LIST


# --- isBotEvent on Open and Click ---------------------------------------------------------------------------


def test_an_open_flagged_as_likely_automated() -> None:
    record = tenant_record("open_bot.json")
    event = parse_event(record)
    assert isinstance(event, OpenEvent)
    assert event.open.is_bot_event is BotLikelihood.LIKELY
    assert event.open.likely_bot
    assert event.tenant == "acme"
    assert to_dict(event) == record


def test_a_click_flagged_as_unlikely_automated() -> None:
    record = tenant_record("click_human.json")
    event = parse_event(record)
    assert isinstance(event, ClickEvent)
    assert event.click.is_bot_event is BotLikelihood.UNLIKELY
    assert not event.click.likely_bot
    assert to_dict(event) == record


@pytest.mark.parametrize("name", ["event_06_Open.json", "event_07_Click.json"])
def test_records_from_before_the_flag_have_none(name: str) -> None:
    event = parse_event(load(name))
    detail = event.open if isinstance(event, OpenEvent) else event.click  # type: ignore[union-attr]
    assert detail.is_bot_event is None
    assert not detail.likely_bot
    assert "isBotEvent" not in json.dumps(to_dict(event))  # type: ignore[arg-type]


@pytest.mark.parametrize(("name", "key"), [("open_bot.json", "open"), ("click_human.json", "click")])
def test_an_unknown_bot_value_is_kept(name: str, key: str) -> None:
    record = tenant_record(name)
    record[key]["isBotEvent"] = "Possibly"
    event = parse_event(record)
    value = getattr(event, key).is_bot_event
    assert value == "Possibly"
    assert not value.is_known
    assert not getattr(event, key).likely_bot
    assert to_dict(event)[key]["isBotEvent"] == "Possibly"  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [True, 1, ["Likely"], {"value": "Likely"}])
@pytest.mark.parametrize(("name", "key"), [("open_bot.json", "open"), ("click_human.json", "click")])
def test_a_bot_flag_of_the_wrong_type_is_a_parse_error(name: str, key: str, value: Any) -> None:
    record = tenant_record(name)
    record[key]["isBotEvent"] = value
    with pytest.raises(ParseError) as caught:
        parse_event(record)
    assert caught.value.location == f"{key}.isBotEvent"
    assert caught.value.raw is record


def test_the_samples_are_where_the_readme_says(tmp_path: Path) -> None:
    names = sorted(p.name for p in TENANTS.glob("*.json"))
    readme = (TENANTS / "README.md").read_text(encoding="utf-8")
    assert names
    assert all(f"`{name}`" in readme for name in names)
