"""What a dispatch returns: the handlers an item reached and how each of them ended."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from ..errors import SesflowError
from ..events import ParsedRecord
from ..sources import SourceItem

__all__ = ["DispatchResult", "HandlerFailure", "handler_name", "new_result"]


def handler_name(func: Callable[..., Any]) -> str:
    """A readable name for a handler: ``module.qualname`` (or the object's repr when it has none)."""
    qualname = getattr(func, "__qualname__", None)
    if qualname is None:
        return repr(func)
    module = getattr(func, "__module__", None)
    return f"{module}.{qualname}" if module else str(qualname)


@attrs.frozen
class HandlerFailure:
    """One handler (or hook, or ``where`` predicate of a handler) that raised ``exception``."""

    handler: Callable[..., Any]
    exception: Exception

    @property
    def name(self) -> str:
        """The handler's ``module.qualname``."""
        return handler_name(self.handler)


@attrs.frozen
class DispatchResult:
    """The outcome of routing one record (or one delivered item) to its handlers.

    ``handlers`` are the handlers the record was routed to, in registration order (its filters matched, or a
    ``where`` predicate raised). ``failures`` are those that raised, each with its exception; one failure does
    not stop the other handlers or hide their results. A hook that raised is listed in ``failures`` too.

    For ``EventRouter.dispatch_item``, ``item`` is the source
    item; when it could not be unwrapped, verified or parsed, ``record`` is None and ``error`` says why.
    """

    record: ParsedRecord | None
    handlers: tuple[Callable[..., Any], ...] = ()
    failures: tuple[HandlerFailure, ...] = ()
    item: SourceItem | None = attrs.field(default=None, repr=False)
    error: SesflowError | None = None

    @property
    def ok(self) -> bool:
        """True when the record was valid and no handler or hook raised (an unmatched record is ok)."""
        return not self.failures and self.error is None

    @property
    def matched(self) -> bool:
        """True when at least one handler was selected for the record."""
        return bool(self.handlers)

    @property
    def succeeded(self) -> tuple[Callable[..., Any], ...]:
        """The selected handlers that returned without raising."""
        if not self.failures:
            return self.handlers
        failed = {id(f.handler) for f in self.failures}
        return tuple(h for h in self.handlers if id(h) not in failed)

    @property
    def item_id(self) -> str | None:
        """The transport's identity of the item (SQS message id, Firehose record id...), if there is one."""
        return self.item.item_id if self.item is not None else None

    def describe_failure(self) -> str:
        """One line saying why this result is not ok (empty when it is)."""
        where = f"item {self.item_id}" if self.item is not None else _describe_record(self.record)
        if self.error is not None:
            return f"{where}: invalid: {self.error}"
        if self.failures:
            parts = ", ".join(f"{f.name} raised {f.exception!r}" for f in self.failures)
            return f"{where}: {parts}"
        return ""


def _describe_record(record: ParsedRecord | None) -> str:
    mail = getattr(record, "mail", None)
    message_id = getattr(mail, "message_id", None)
    kind = type(record).__name__
    return f"{kind} {message_id}" if message_id else kind


# Results are built on every dispatch; setting the five slots directly skips the frozen-class __init__
# (object.__setattr__ per field), which is most of a dispatch's own cost. Same values, same class.
_new = object.__new__
_slots = DispatchResult.__dict__  # the member descriptors of the slotted class
_set_record: Callable[[DispatchResult, object], None] = _slots["record"].__set__
_set_handlers: Callable[[DispatchResult, object], None] = _slots["handlers"].__set__
_set_failures: Callable[[DispatchResult, object], None] = _slots["failures"].__set__
_set_item: Callable[[DispatchResult, object], None] = _slots["item"].__set__
_set_error: Callable[[DispatchResult, object], None] = _slots["error"].__set__


def new_result(
    record: ParsedRecord | None,
    handlers: tuple[Callable[..., Any], ...],
    failures: tuple[HandlerFailure, ...],
    item: SourceItem | None,
    error: SesflowError | None = None,
) -> DispatchResult:
    """``DispatchResult(record, handlers, failures, item, error)``, built without the attrs ``__init__``."""
    result: DispatchResult = _new(DispatchResult)
    _set_record(result, record)
    _set_handlers(result, handlers)
    _set_failures(result, failures)
    _set_item(result, item)
    _set_error(result, error)
    return result
