"""Property tests of the parser and the public strategies in ``sesflow.testing.strategies``.

* Every record the strategies generate parses to the class of its type, with the values it was built from.
* ``to_dict(parse_event(x)) == x``. The strategies produce SES's canonical values (millisecond ``Z``
  timestamps, lists for address headers, no unknown fields), so equality holds exactly, with one explicit
  exception normalised in :func:`canonical`: SES sends ``"complaintSubType": null`` and the strategies do too,
  while ``to_dict`` omits nulls (documented in its docstring).
* Fuzzing: arbitrary JSON, SES-shaped junk and mutated valid records either parse or raise ``ParseError``,
  nothing else; and whatever parsed can be read (lazy fields included), compared, hashed, pickled and
  unparsed, each either working or raising ``ParseError``.
"""

from __future__ import annotations

import builtins
import copy
import importlib
import json
import pickle
import re
import sys
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import attrs
import pytest
from hypothesis import Phase, find, given, settings
from hypothesis import strategies as st

import sesflow.events
import sesflow.testing
from sesflow import MissingExtra, ParseError
from sesflow.events import (
    EVENT_CLASS_BY_TYPE,
    BounceEvent,
    ClickEvent,
    ComplaintEvent,
    ControlMessage,
    DelayType,
    DeliveryDelayEvent,
    DeliveryEvent,
    EventFamily,
    EventType,
    Mail,
    OpenEnum,
    OpenEvent,
    RejectEvent,
    RenderingFailureEvent,
    SendEvent,
    SesEvent,
    SubscriptionEvent,
    UnknownEvent,
    converter,
    load_json,
    parse_event,
    to_dict,
)
from sesflow.testing import strategies

from ._hypothesis import PROFILE, fewer

Record = dict[str, Any]
SEARCH = settings(max_examples=2000, database=None, deadline=None, phases=[Phase.generate])
"""For ``find``: look for an example the strategies should produce now and then (no shrinking)."""


def canonical(record: Record) -> Record:
    """``record`` as ``to_dict`` writes it: a null ``complaintSubType`` is omitted (see the module doc)."""
    out = copy.deepcopy(record)
    complaint = out.get("complaint")
    if (
        isinstance(complaint, dict)
        and "complaintSubType" in complaint
        and complaint["complaintSubType"] is None
    ):
        del complaint["complaintSubType"]
    return out


def encode(record: Any, form: str) -> Any:
    if form == "dict":
        return record
    text = json.dumps(record)
    return text if form == "str" else text.encode()


FORMS = st.sampled_from(["dict", "str", "bytes"])


def family_of(record: Record) -> EventFamily:
    return EventFamily.EVENT if "eventType" in record else EventFamily.NOTIFICATION


def assert_plain_json(value: Any) -> None:
    """Exactly the types ``json.loads`` gives: no enum members, tuples or datetimes."""
    kind = type(value)
    if kind is dict:
        for key, item in value.items():
            assert type(key) is str
            assert_plain_json(item)
    elif kind is list:
        for item in value:
            assert_plain_json(item)
    else:
        assert kind in (str, int, float, bool, type(None)), f"{value!r} is a {kind.__name__}"


# --- generated records --------------------------------------------------------------------------------------


@PROFILE
@given(record=strategies.ses_records(), form=FORMS)
def test_every_generated_record_parses_to_the_class_of_its_type(record: Record, form: str) -> None:
    family = family_of(record)
    event = parse_event(encode(record, form))
    assert type(event) is EVENT_CLASS_BY_TYPE[EventType(record[family.value])]
    assert isinstance(event, SesEvent)
    assert event.family is family
    assert event.event_type.value == record[family.value]
    assert event.message_id == record["mail"]["messageId"]
    assert event.mail.destination == tuple(record["mail"]["destination"])
    assert set(event.recipients) <= set(event.mail.destination)
    assert event.recipients
    assert event.timestamp.utcoffset() is not None
    assert event.timestamp >= event.mail.timestamp
    if family is EventFamily.EVENT:
        assert event.configuration_set == record["mail"]["tags"]["ses:configuration-set"][0]
        assert event.tags == {name: tuple(values) for name, values in record["mail"]["tags"].items()}
    else:
        assert event.configuration_set is None
        assert event.mail.tags is None
        assert event.mail.source_ip == record["mail"]["sourceIp"]
    if "headers" in record["mail"]:
        assert event.mail.header("from") == record["mail"]["source"]


@PROFILE
@given(record=strategies.ses_records(unknown_event_types=True), form=FORMS)
def test_to_dict_gives_back_the_record(record: Record, form: str) -> None:
    event = parse_event(encode(record, form))
    out = to_dict(event)  # type: ignore[arg-type]
    assert out == canonical(record)
    assert_plain_json(out)
    assert parse_event(out) == event


@fewer(50)
@given(event=strategies.ses_events(unknown_event_types=True))
def test_generated_events_pickle_compare_and_hash(event: SesEvent) -> None:
    clone = pickle.loads(pickle.dumps(event))
    assert clone == event
    assert hash(clone) == hash(event)
    assert type(clone) is type(event)
    assert to_dict(clone) == to_dict(event)


PER_TYPE: list[tuple[Callable[..., st.SearchStrategy[Record]], type[SesEvent]]] = [
    (strategies.send_records, SendEvent),
    (strategies.delivery_records, DeliveryEvent),
    (strategies.bounce_records, BounceEvent),
    (strategies.complaint_records, ComplaintEvent),
    (strategies.reject_records, RejectEvent),
    (strategies.open_records, OpenEvent),
    (strategies.click_records, ClickEvent),
    (strategies.rendering_failure_records, RenderingFailureEvent),
    (strategies.delivery_delay_records, DeliveryDelayEvent),
    (strategies.subscription_records, SubscriptionEvent),
]


@pytest.mark.parametrize(("make", "cls"), PER_TYPE, ids=[cls.__name__ for _, cls in PER_TYPE])
@fewer(25)
@given(data=st.data())
def test_each_per_type_strategy_gives_its_type(
    make: Callable[..., st.SearchStrategy[Record]], cls: type[SesEvent], data: st.DataObject
) -> None:
    record = data.draw(make())
    event = parse_event(record)
    assert type(event) is cls
    assert event.family is EventFamily.EVENT
    assert to_dict(event) == canonical(record)


def test_every_event_type_has_a_strategy() -> None:
    assert {cls.EVENT_TYPE for _, cls in PER_TYPE} == set(EventType)


# --- strategy options ---------------------------------------------------------------------------------------


@fewer(40)
@given(
    record=strategies.ses_records(event_types=[EventType.BOUNCE, "Complaint"], families=["notificationType"])
)
def test_ses_records_restricted_to_types_and_a_family(record: Record) -> None:
    event = parse_event(record)
    assert type(event) in (BounceEvent, ComplaintEvent)
    assert event.family is EventFamily.NOTIFICATION


@fewer(40)
@given(
    record=strategies.ses_records(
        configuration_set="orders",
        recipients=["a@example.com", "b@example.com"],
        families=[EventFamily.EVENT],
    )
)
def test_fixed_configuration_set_and_recipients(record: Record) -> None:
    event = parse_event(record)
    assert event.configuration_set == "orders"
    assert event.mail.destination == ("a@example.com", "b@example.com")
    assert set(event.recipients) <= {"a@example.com", "b@example.com"}


@fewer(40)
@given(
    record=strategies.bounce_records(
        configuration_set=st.sampled_from(["blue", "green"]),
        recipients=st.lists(st.sampled_from(["x@example.com", "y@example.com"]), min_size=1, unique=True),
    )
)
def test_configuration_set_and_recipients_from_strategies(record: Record) -> None:
    event = parse_event(record)
    assert event.configuration_set in {"blue", "green"}
    assert set(event.mail.destination) <= {"x@example.com", "y@example.com"}


@fewer(40)
@given(record=strategies.bounce_records(bounce_type="Permanent", family=None))
def test_permanent_bounces_are_always_suppressed(record: Record) -> None:
    event = parse_event(record)
    assert isinstance(event, BounceEvent)
    assert event.should_suppress
    assert event.bounce.bounce_sub_type.value in (
        "General",
        "NoEmail",
        "Suppressed",
        "OnAccountSuppressionList",
        "OnTenantSuppressionList",
    ) or (not event.bounce.bounce_sub_type.is_known)


def _enum_values(event: Any) -> list[OpenEnum]:
    """Every open-enum value anywhere in a parsed event."""
    found: list[OpenEnum] = []

    def walk(value: Any) -> None:
        if isinstance(value, OpenEnum):
            found.append(value)
        elif attrs.has(type(value)):
            for field in attrs.fields(type(value)):
                if field.name not in ("raw", "family"):
                    walk(getattr(value, field.name))
        elif isinstance(value, tuple):
            for item in value:
                walk(item)

    walk(event)
    return found


@fewer(50)
@given(
    record=strategies.ses_records(
        event_types=["Bounce", "Complaint", "DeliveryDelay", "Subscription"], allow_unknown=False
    )
)
def test_allow_unknown_false_gives_known_values_only(record: Record) -> None:
    assert all(value.is_known for value in _enum_values(parse_event(record)))


@fewer(60)
@given(record=strategies.bounce_records(allow_unknown=False))
def test_bounce_subtypes_match_their_type(record: Record) -> None:
    pairs = {
        "Undetermined": {"Undetermined"},
        "Permanent": {
            "General",
            "NoEmail",
            "Suppressed",
            "OnAccountSuppressionList",
            "OnTenantSuppressionList",
        },
        "Transient": {"General", "MailboxFull", "MessageTooLarge", "ContentRejected", "AttachmentRejected"},
    }
    assert record["bounce"]["bounceSubType"] in pairs[record["bounce"]["bounceType"]]


@fewer(50)
@given(record=strategies.ses_records(unknown_event_types=True, families=[EventFamily.EVENT]))
def test_unknown_event_types_become_unknown_events(record: Record) -> None:
    event = parse_event(record)
    known = EventType(record["eventType"]).is_known
    assert isinstance(event, UnknownEvent) is (not known)
    if not known:
        assert isinstance(event, UnknownEvent)
        assert event.type_name == record["eventType"]
        assert event.raw == record


@pytest.mark.parametrize(
    ("strategy", "wanted"),
    [
        (strategies.ses_records(), lambda r: family_of(r) is EventFamily.NOTIFICATION),
        (strategies.bounce_records(family=None), lambda r: family_of(r) is EventFamily.NOTIFICATION),
        (
            strategies.bounce_records(),
            lambda r: r["bounce"]["bounceType"] not in ("Permanent", "Transient", "Undetermined"),
        ),
        (strategies.bounce_records(), lambda r: "status" not in r["bounce"]["bouncedRecipients"][0]),
        (strategies.bounce_records(), lambda r: len(r["bounce"]["bouncedRecipients"]) > 1),
        (strategies.complaint_records(), lambda r: r["complaint"].get("complaintSubType", 0) is None),
        (strategies.complaint_records(), lambda r: r["complaint"].get("complaintFeedbackType") == "not-spam"),
        (
            strategies.delivery_delay_records(),
            lambda r: not DelayType(r["deliveryDelay"]["delayType"]).is_known,
        ),
        (strategies.open_records(), lambda r: "sourceArn" not in r["mail"]),
        (strategies.open_records(), lambda r: "ipAddress" not in r["open"]),
        (strategies.click_records(), lambda r: "linkTags" in r["click"]),
        (strategies.send_records(), lambda r: r["mail"]["headersTruncated"] and "headers" not in r["mail"]),
        (strategies.send_records(), lambda r: "X-SES-CONFIGURATION-SET" in str(r["mail"].get("headers"))),
    ],
)
def test_the_strategies_sometimes_produce(
    strategy: st.SearchStrategy[Record], wanted: Callable[[Record], bool]
) -> None:
    example = find(strategy, wanted, settings=SEARCH)
    parse_event(example)  # and such a record is still valid


@pytest.mark.parametrize(
    "build",
    [
        lambda: strategies.ses_records(event_types=["Send"], families=[EventFamily.NOTIFICATION]),
        lambda: strategies.ses_records(event_types=["Archive"]),
        lambda: strategies.ses_records(families=["somethingElse"]),
        lambda: strategies.ses_records(event_types=[]),
        lambda: strategies.bounce_records(family="somethingElse"),
        lambda: strategies.mail_objects(family="somethingElse").example(),
    ],
)
def test_strategy_arguments_are_checked(build: Callable[[], Any]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each message is checked in the next test
        build()


def test_strategy_argument_errors_say_what_to_do() -> None:
    with pytest.raises(ValueError, match="no SES record matches these event types and families"):
        strategies.ses_records(event_types=["Send"], families=["notificationType"])
    with pytest.raises(ValueError, match="unknown event type 'Archive'"):
        strategies.ses_records(event_types=["Archive"])
    with pytest.raises(ValueError, match=r"EventFamily\.EVENT or EventFamily\.NOTIFICATION"):
        strategies.bounce_records(family="somethingElse")


@fewer(50)
@given(mail=strategies.mail_objects(), notification=strategies.mail_objects(family=EventFamily.NOTIFICATION))
def test_mail_objects(mail: Record, notification: Record) -> None:
    parsed = converter.structure(mail, Mail)
    assert parsed.configuration_set == mail["tags"]["ses:configuration-set"][0]
    assert parsed.source_ip is None
    other = converter.structure(notification, Mail)
    assert other.tags is None
    assert other.source_ip == notification["sourceIp"]
    assert other.caller_identity == notification["callerIdentity"]
    assert converter.unstructure(parsed) == mail
    assert converter.unstructure(other) == notification


@PROFILE
@given(
    address=strategies.emails(),
    own=strategies.emails(domains=["corp.example"]),
    message_id=strategies.message_ids(),
    timestamp=strategies.ses_timestamps(),
    name=strategies.configuration_sets(),
)
def test_building_blocks(address: str, own: str, message_id: str, timestamp: str, name: str) -> None:
    local, _, domain = address.rpartition("@")
    assert local
    assert domain in ("example.com", "example.org", "example.net", "mail.example.com", "sub.example.co.uk")
    assert own.endswith("@corp.example")
    assert re.fullmatch(
        r"[0-9a-f]{16}-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-000000", message_id
    )
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", timestamp)
    assert datetime.fromisoformat(timestamp).utcoffset() is not None
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,64}", name)


@fewer(40)
@given(message=strategies.control_messages())
def test_control_messages_are_recognised(message: Any) -> None:
    result = parse_event(message)
    assert isinstance(result, ControlMessage)
    assert not isinstance(result, SesEvent)


def test_strategies_without_hypothesis_raise_missing_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    # Hide hypothesis and import the module afresh; monkeypatch puts every module back afterwards.
    for name in list(sys.modules):
        if name == "hypothesis" or name.startswith("hypothesis."):
            monkeypatch.setitem(sys.modules, name, None)  # type: ignore[arg-type]
    monkeypatch.setitem(sys.modules, "hypothesis", None)  # type: ignore[arg-type]
    monkeypatch.delitem(sys.modules, "sesflow.testing.strategies")
    with pytest.raises(MissingExtra) as info:
        importlib.import_module("sesflow.testing.strategies")
    assert info.value.extra == "testing"
    assert "pip install 'sesflow[testing]'" in str(info.value)
    assert isinstance(info.value, ImportError)
    assert "sesflow.testing.strategies" not in sys.modules


def test_the_rest_of_sesflow_testing_does_not_need_hypothesis(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_hypothesis(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "hypothesis" or name.startswith("hypothesis."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(sesflow, "testing", sesflow.testing)  # the fresh import rebinds it; put it back after
    monkeypatch.setattr(builtins, "__import__", no_hypothesis)
    for name in ("sesflow.testing", "sesflow.testing.factories"):
        monkeypatch.delitem(sys.modules, name)
    module = importlib.import_module("sesflow.testing")
    assert module.make_event(EventType.SEND).event_type is EventType.SEND


# --- fuzzing ------------------------------------------------------------------------------------------------

_MODEL_CLASSES = [
    getattr(sesflow.events, n) for n in sesflow.events.__all__ if attrs.has(getattr(sesflow.events, n))
]
SES_KEYS = sorted(
    {f.metadata["ses"] for cls in _MODEL_CLASSES for f in attrs.fields(cls) if "ses" in f.metadata}
    | {"eventType", "notificationType", "message", "receipt"}
)
TYPE_NAMES = [t.value for t in EventType] + ["AmazonSnsSubscriptionSucceeded", "Received", "Bounced"]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=20),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
ses_scalars = st.one_of(
    scalars,
    st.sampled_from(TYPE_NAMES),
    strategies.ses_timestamps(),
    st.sampled_from(["2024-01-01", "2024-01-01T00:00:00+05:30", "0001-01-01T00:00:00-01:00", "not a date"]),
    strategies.emails(),
)
ses_shaped = st.recursive(
    ses_scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(SES_KEYS) | st.text(max_size=5), inner, max_size=6)
    ),
    max_leaves=15,
)
junk_records = st.builds(
    lambda body, key, name: {**body, key: name},
    st.dictionaries(st.sampled_from(SES_KEYS), ses_shaped, max_size=6),
    st.sampled_from(["eventType", "notificationType"]),
    st.sampled_from(TYPE_NAMES) | json_values,
)


def _slots(value: Any) -> list[tuple[Any, Any]]:
    """Every (container, key) pair inside a JSON value, depth first."""
    found: list[tuple[Any, Any]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            found.append((value, key))
            found.extend(_slots(item))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.append((value, index))
            found.extend(_slots(item))
    return found


def _retype(value: Any) -> list[Any]:
    """Values of other JSON types that a careless producer might put in ``value``'s place."""
    return [
        candidate
        for candidate in (str(value), 1, 1.5, True, None, [value], {"value": value}, [], {})
        if type(candidate) is not type(value)
    ]


VALID_RECORDS = strategies.ses_records(unknown_event_types=True)
_TOP_KEYS = ("mail", "eventType", "notificationType")


@st.composite
def mutated_records(draw: st.DrawFn) -> Record:
    """A valid record with one to four things broken: keys dropped, types changed, junk inserted."""
    record = copy.deepcopy(draw(VALID_RECORDS))
    for _ in range(draw(st.integers(1, 4))):
        slots = _slots(record)
        if not slots:  # everything was dropped already
            break
        # mail has most of the slots: aim at the detail object half of the time, so its fields get broken too
        detail = [
            slots_of for key, value in record.items() if key not in _TOP_KEYS for slots_of in _slots(value)
        ]
        if detail and draw(st.booleans()):
            slots = detail
        container, key = draw(st.sampled_from(slots))
        action = draw(st.sampled_from(["drop", "retype", "replace", "junk", "null"]))
        if action == "drop":
            del container[key]
        elif action == "retype":
            container[key] = draw(st.sampled_from(_retype(container[key])))
        elif action == "replace":
            container[key] = draw(ses_shaped)
        elif action == "null":
            container[key] = None
        elif isinstance(container[key], dict):
            container[key][draw(st.sampled_from(SES_KEYS) | st.text(max_size=5))] = draw(ses_shaped)
        elif isinstance(container[key], list):
            container[key].insert(draw(st.integers(0, len(container[key]))), draw(ses_shaped))
        else:
            container[key] = draw(json_values)
    return record


_FAILED = object()


def _attempt(event: SesEvent, read: Callable[[], Any]) -> Any:
    """Run ``read``; a ParseError is allowed only for a lazily structured part of ``mail``."""
    try:
        return read()
    except ParseError as exc:
        error = exc
    assert error.path[0] == "mail"
    assert error.path[1] in ("headers", "commonHeaders", "tags")
    assert error.raw == event.raw["mail"][error.path[1]]  # (a clone from pickle has its own copy)
    return _FAILED


def check_parse(payload: Any) -> Any:
    """``parse_event(payload)``: a result or a ParseError, then everything on the result works or raises
    ParseError. Any other exception fails the test."""
    try:
        result = parse_event(payload)
    except ParseError as exc:
        error = exc
    else:
        error = None
    if error is not None:
        assert error.raw is payload
        check_error_path(payload, error)
        return None
    assert isinstance(result, SesEvent | ControlMessage)
    if isinstance(result, SesEvent):
        exercise(result)
    return result


def check_error_path(payload: Any, error: ParseError) -> None:
    """The path of a ParseError points into the payload: every step but the last exists."""
    assert isinstance(error.location, str)
    str(error)
    if not error.path:
        return
    record: Any = payload if isinstance(payload, Mapping) else load_json(payload)
    node = record
    for part in error.path[:-1]:
        node = node[part]
    last = error.path[-1]
    if error.reason == "required field is missing":
        assert node.get(last) is None
    else:
        assert last in node if isinstance(node, dict) else 0 <= last < len(node)  # type: ignore[operator]


def exercise(event: SesEvent) -> None:
    mail = event.mail
    for read in (
        lambda: mail.headers,
        lambda: mail.common_headers,
        lambda: mail.tags,
        lambda: mail.header("From"),
        lambda: event.tags,
        lambda: event.configuration_set,
        lambda: repr(event),
        lambda: hash(event),
        lambda: event == copy.copy(event),
        lambda: pickle.loads(pickle.dumps(event)) == event,
    ):
        _attempt(event, read)
    assert isinstance(event.recipients, tuple)
    assert isinstance(event.timestamp, datetime)
    assert isinstance(event.message_id, str)
    assert isinstance(event.event_type, EventType)
    if isinstance(event, BounceEvent | ComplaintEvent):
        assert isinstance(event.should_suppress, bool)
    out = _attempt(event, lambda: to_dict(event))
    if out is not _FAILED:
        assert_plain_json(out)
        again = parse_event(out)
        assert to_dict(again) == out  # to_dict's normalisation is stable


@PROFILE
@given(value=json_values, form=FORMS)
def test_fuzz_arbitrary_json(value: Any, form: str) -> None:
    check_parse(encode(value, form))


@PROFILE
@given(data=st.one_of(st.binary(max_size=200), st.text(max_size=200)))
def test_fuzz_arbitrary_bytes_and_text(data: bytes | str) -> None:
    check_parse(data)


@PROFILE
@given(record=junk_records, form=FORMS)
def test_fuzz_ses_shaped_junk(record: Record, form: str) -> None:
    check_parse(encode(record, form))


@PROFILE
@given(record=mutated_records(), form=FORMS)
def test_fuzz_mutated_records(record: Record, form: str) -> None:
    check_parse(encode(record, form))


@fewer(50)
@given(record=strategies.ses_records(), form=FORMS)
def test_fuzz_check_accepts_valid_records(record: Record, form: str) -> None:
    # The fuzz harness itself: on a valid record it parses, and every read and to_dict work.
    event = check_parse(encode(record, form))
    assert isinstance(event, SesEvent)
    assert to_dict(event) == canonical(record)
