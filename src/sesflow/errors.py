"""The one error hierarchy: everything sesflow raises on purpose is a ``SesflowError``."""

from __future__ import annotations

from collections.abc import Sequence

from ._public import publish

__all__ = [
    "MissingExtra",
    "ParseError",
    "SesflowError",
    "SnsReplayError",
    "SnsVerificationError",
    "SourceError",
]


class SesflowError(Exception):
    """Base class of every error sesflow raises on purpose."""


class ParseError(SesflowError, ValueError):
    """A payload is not a valid SES record.

    ``raw`` is the payload exactly as it was given (bytes, text or mapping), so a caller can hand it to a
    dead-letter path instead of losing it; for a lazily structured part of ``mail`` (headers, common
    headers, tags) that fails on first read, it is that part's raw value. ``path`` names the field that
    failed, from the top of the record, for example ``("bounce", "bouncedRecipients", 0, "emailAddress")``;
    it is empty when the payload as a whole is wrong (not JSON, not an object).
    """

    def __init__(self, reason: str, *, raw: object, path: Sequence[str | int] = ()) -> None:
        self.reason = reason
        self.raw = raw
        self.path: tuple[str | int, ...] = tuple(path)
        where = f" at {self.location}" if self.path else ""
        super().__init__(f"not a valid SES record{where}: {reason}")

    @property
    def location(self) -> str:
        """The failing field as a dotted path, e.g. ``bounce.bouncedRecipients[0].emailAddress``."""
        out = ""
        for part in self.path:
            out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
        return out

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only arguments need help to survive pickling (multiprocessing, task queues).
        return (_rebuild_parse_error, (self.reason, self.raw, self.path))


def _rebuild_parse_error(reason: str, raw: object, path: tuple[str | int, ...]) -> ParseError:
    return ParseError(reason, raw=raw, path=path)


class MissingExtra(SesflowError, ImportError):
    """An optional feature was used without its extra installed."""

    def __init__(self, feature: str, extra: str, module: str) -> None:
        self.extra = extra
        super().__init__(f"{feature} needs the optional module {module!r}: pip install 'sesflow[{extra}]'")


class SourceError(SesflowError):
    """A transport delivered something that is not the envelope it should be (not SNS, not EventBridge...).

    ``raw`` is the item as delivered, so it can go to a dead-letter path.
    """

    def __init__(self, reason: str, *, raw: object = None) -> None:
        self.reason = reason
        self.raw = raw
        super().__init__(reason)


class SnsVerificationError(SesflowError):
    """An SNS message failed verification: bad certificate URL, signature, age, certificate or topic.

    Such a message must never be trusted or acted on; an HTTPS endpoint answers it with a 4xx.
    """

    def __init__(self, reason: str, *, message_id: str | None = None) -> None:
        self.reason = reason
        self.message_id = message_id
        super().__init__(reason)


class SnsReplayError(SnsVerificationError):
    """A genuine SNS message that was already handled arrived again (a replay, or a redelivery after success).

    Raised only once the message verified, by a verifier with a replay guard that remembers the ``MessageId``
    as handled. The message was handled before, so nothing is lost by ignoring it: an HTTPS endpoint answers
    it 2xx (so SNS stops delivering it) and a queue consumer deletes it as a duplicate.
    """


publish(__name__, __all__, globals())
