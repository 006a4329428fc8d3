"""``parse_event``: any SES record (bytes, text or mapping) to a typed model, and ``to_dict`` back."""

from __future__ import annotations

import typing
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from ..errors import MissingExtra, ParseError
from . import _json, models
from ._converter import Invalid, converter, structure_fn
from .enums import EventFamily

__all__ = ["TOPIC_VALIDATION_TEXT", "ParsedRecord", "load_json", "parse_event", "to_dict"]

TOPIC_VALIDATION_TEXT = "Successfully validated SNS topic for Amazon SES event publishing."

ParsedRecord = models.SesEvent | models.ControlMessage
"""What ``parse_event`` returns: a sending event, or a control message that shares its channels."""

# The decoder of the hot path, and the reference decoder that decides what it refused (None when it is the
# reference itself): see sesflow.events._json for why both give the same value.
_loads: Callable[[Any], Any] = _json.loads
_fallback: Callable[[Any], Any] | None = None
_decoder_name = "json"


def _use_decoder(name: str) -> str:
    """Switch the JSON decoder of ``parse_event`` and ``load_json``; returns the previous one's name.

    Internal, for tests and ``bench/fuzz.py``, which run the same payloads through both decoders in one
    process. Applications choose with the ``SESFLOW_JSON_DECODER`` environment variable instead (read at
    import). ``name`` is ``"orjson"`` or ``"json"``.
    """
    global _loads, _fallback, _decoder_name
    if name not in ("orjson", "json"):
        raise ValueError(f"unknown JSON decoder {name!r}: 'orjson' or 'json'")
    if name not in _json.DECODERS:
        raise MissingExtra("the orjson decoder", "fast", "orjson")
    previous = _decoder_name
    _loads = _json.DECODERS[name]
    _fallback = None if name == "json" else _json.loads
    _decoder_name = name
    return previous


_use_decoder(_json.configured_decoder())


def load_json(data: bytes | str) -> Any:
    """Decode JSON as ``parse_event`` does (orjson when installed); raises ``ValueError`` on bad input.

    The value is the same whichever decoder is installed: see "Decoding JSON" in the parsing guide.
    """
    try:
        return _loads(data)
    except Exception as exc:  # orjson: JSONDecodeError (a ValueError) or TypeError; json: also RecursionError
        error: Exception = exc
    if _fallback is not None:  # orjson refused it: the reference decoder decides (lone surrogates pass)
        try:
            return _fallback(data)
        except Exception as exc:
            error = exc
    if isinstance(error, ValueError):
        raise error
    raise ValueError(str(error)) from None


def _detail_field(cls: type[models.SesEvent]) -> tuple[str, type[Any]]:
    """The attribute and model class of an event's detail (``BounceEvent`` -> ``"bounce", Bounce``)."""
    hints = typing.get_type_hints(cls)
    for field in attrs.fields(cls):
        if field.metadata.get("ses") == cls.DETAIL_KEY:
            return field.name, hints[field.name]
    raise LookupError(cls)  # pragma: no cover - every event class has its detail field


_DETAILS = {cls: _detail_field(cls) for cls in models.EVENT_CLASSES}
_structure_mail = structure_fn(models.Mail)
# Events are built without __init__ (they have no validators): the parser already checked every value,
# and setting four slots directly takes half the time of the keyword-argument constructor.
_new = object.__new__
_set_mail = models.SesEvent.mail.__set__  # type: ignore[attr-defined]
_set_family = models.SesEvent.family.__set__  # type: ignore[attr-defined]
_set_raw = models.SesEvent.raw.__set__  # type: ignore[attr-defined]


def _parse_mail(record: dict[str, Any]) -> models.Mail:
    mail = record.get("mail")
    if mail is None:
        raise Invalid("required field is missing", "mail")
    try:
        result: models.Mail = _structure_mail(mail)
    except Invalid as e:
        e.path.insert(0, "mail")
        raise
    return result


def _event_parser(cls: type[models.SesEvent]) -> Callable[[dict[str, Any], EventFamily], models.SesEvent]:
    detail_key: str = cls.DETAIL_KEY  # type: ignore[assignment]
    attr, detail_cls = _DETAILS[cls]
    structure_detail = structure_fn(detail_cls)
    set_detail = getattr(cls, attr).__set__
    default_detail = models.Send() if cls is models.SendEvent else None  # SES's "send" is always {}

    def parse(record: dict[str, Any], family: EventFamily) -> models.SesEvent:
        mail = record.get("mail")
        if mail is None:
            raise Invalid("required field is missing", "mail")
        try:
            mail = _structure_mail(mail)
        except Invalid as e:
            e.path.insert(0, "mail")
            raise
        detail = record.get(detail_key)
        if detail is None:
            if default_detail is None:
                raise Invalid("required field is missing", detail_key)
            detail = default_detail
        else:
            try:
                detail = structure_detail(detail)
            except Invalid as e:
                e.path.insert(0, detail_key)
                raise
        event = _new(cls)
        _set_mail(event, mail)
        _set_family(event, family)
        _set_raw(event, record)
        set_detail(event, detail)
        return event

    return parse


_EVENT_PARSERS = {cls.EVENT_TYPE.value: _event_parser(cls) for cls in models.EVENT_CLASSES}
# Feedback notifications share the event classes of their event-publishing twins.
_NOTIFICATION_PARSERS = {name: _EVENT_PARSERS[name] for name in ("Bounce", "Complaint", "Delivery")}
_EVENT = EventFamily.EVENT
_NOTIFICATION = EventFamily.NOTIFICATION


def _parse_record(record: dict[str, Any]) -> ParsedRecord:
    type_name = record.get("eventType")
    if type_name is not None:
        if type(type_name) is not str:
            raise Invalid(f"expected a string, got {type(type_name).__name__}", "eventType")
        parse = _EVENT_PARSERS.get(type_name)
        if parse is not None:
            return parse(record, _EVENT)
        return models.UnknownEvent(_parse_mail(record), type_name=type_name, raw=record)
    type_name = record.get("notificationType")
    if type_name is None:
        raise Invalid("neither 'eventType' nor 'notificationType' is present: not an SES record")
    if type(type_name) is not str:
        raise Invalid(f"expected a string, got {type(type_name).__name__}", "notificationType")
    parse = _NOTIFICATION_PARSERS.get(type_name)
    if parse is not None:
        return parse(record, _NOTIFICATION)
    if type_name == "AmazonSnsSubscriptionSucceeded":
        message = record.get("message")
        return models.SubscriptionSucceeded(record, message if isinstance(message, str) else None)
    if type_name == "Received":
        mail, receipt = record.get("mail"), record.get("receipt")
        return models.ReceivedMail(
            record,
            mail if isinstance(mail, dict) else None,
            receipt if isinstance(receipt, dict) else None,
        )
    raise Invalid(f"unknown notificationType {type_name!r}", "notificationType")


def _recover(data: bytes | bytearray | memoryview | str, error: Exception) -> Any:
    """The slow path, for what the hot path's decoder refused: the reference decoder decides (orjson refuses
    lone surrogates, which are valid JSON), then the one plain-text message SES sends on an event topic."""
    if _fallback is not None:
        try:
            return _fallback(data)
        except Exception as exc:
            error = exc
    text = bytes(data) if isinstance(data, (bytearray, memoryview)) else data
    plain = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    if plain.startswith("Successfully validated SNS topic"):
        return models.TopicValidation(data, plain.strip())
    raise ParseError(f"invalid JSON: {error}", raw=data) from None


def parse_event(data: bytes | str | Mapping[str, Any]) -> ParsedRecord:
    """Parse one SES record into its typed model.

    ``data`` is the record as JSON (bytes or text) or as the mapping ``json.loads`` gives. The result is one
    of the ``SesEvent`` subclasses (both families: event publishing and feedback
    notifications), an ``UnknownEvent`` for an ``eventType`` this version does not know,
    or a ``ControlMessage`` for what SES sends on the same channels that is not about a
    sent message (subscription succeeded, topic validation, inbound mail).

    Raises ``sesflow.ParseError``, and nothing else, for anything that is not a valid record; the error
    carries the payload as given and the path of the failing field. ``mail.headers``,
    ``mail.common_headers`` and ``mail.tags`` are checked when first read (see ``Mail``).
    """
    try:
        kind = type(data)
        if kind is bytes or kind is str or isinstance(data, (bytes, str, bytearray, memoryview)):
            try:
                record = _loads(data)
            except Exception as exc:  # the slow way: another decoder, a TopicValidation or a ParseError
                record = _recover(data, exc)  # type: ignore[arg-type]
        elif isinstance(data, Mapping):
            if kind is dict:
                record = data
            else:
                try:
                    record = dict(data)
                except Exception as exc:  # a mapping that cannot be read is not a record either
                    raise ParseError(f"could not read the mapping: {type(exc).__name__}", raw=data) from None
        else:
            raise ParseError(f"expected JSON bytes/str or a mapping, got {kind.__name__}", raw=data)
        if type(record) is not dict:
            if isinstance(record, models.TopicValidation):
                return record
            raise ParseError(f"expected a JSON object, got {type(record).__name__}", raw=data)
        return _parse_record(record)
    except Invalid as e:
        raise ParseError(e.reason, raw=data, path=e.path) from None
    except RecursionError:
        raise ParseError("nested too deeply", raw=data) from None


def to_dict(event: models.SesEvent) -> dict[str, Any]:
    """The SES JSON shape of an event, so that ``to_dict(parse_event(x)) == x``.

    Normalisation: fields this version does not model are dropped, ``null`` values are omitted, timestamps
    are written as SES writes them (UTC, milliseconds, ``Z``), and a ``sender`` common header given as a
    string comes back as a one-item list. An ``UnknownEvent`` gives back its raw record.
    """
    result: dict[str, Any] = converter.unstructure(event)
    return result


def _unstructure_event(event: models.SesEvent) -> dict[str, Any]:
    if isinstance(event, models.UnknownEvent):
        return dict(event.raw)
    attr, detail_cls = _DETAILS[type(event)]
    return {
        event.family.value: event.event_type.value,
        "mail": converter.unstructure(event.mail, models.Mail),
        event.DETAIL_KEY: converter.unstructure(getattr(event, attr), detail_cls),  # type: ignore[dict-item]
    }


converter.register_unstructure_hook_func(
    lambda t: isinstance(t, type) and issubclass(t, models.SesEvent), _unstructure_event
)
