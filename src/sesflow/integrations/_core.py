"""The framework-free core of the SNS webhooks: a request's body and headers in, a status and JSON body out.

The FastAPI, aiohttp and Django modules only read the request and write the response; everything else
(verifying, confirming subscriptions, dispatching, choosing the status code) happens here, once.

Status codes (SNS retries any answer that is not 2xx, see docs/webhooks.md):

- 200: handled; also a verified payload that is not an SES record, once the dead-letter hook took it, and a
  genuine message the verifier's replay guard remembers as handled (``duplicate``: nothing runs again);
- 400: not an SNS delivery (not JSON, headers missing or disagreeing with the body): a retry cannot help;
- 403: failed verification (signature, certificate, certificate URL, fields, age, topic) or a confirmation
  that was refused;
- 413: the body is larger than an SNS message can be;
- 500: a handler or the dead-letter hook raised: SNS retries, and the retry may succeed;
- 503: the signing certificate or the confirmation request could not be fetched, or the replay guard's store
  could not be asked: a retry may succeed.

A message is marked handled in the verifier's replay guard (if it has one) only when the answer is 200, so
SNS's redelivery after a 5xx still verifies.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any, Final

import attrs

from ..errors import SnsReplayError, SnsVerificationError, SourceError
from ..routing import DispatchResult, EventRouter
from ..sources import (
    MessageVerifier,
    SnsSubscriptionConfirmation,
    SourceItem,
    mark_handled,
    sns_http_item,
    sns_http_item_async,
)

__all__ = [
    "MAX_BODY_SIZE",
    "WebhookResponse",
    "answer_for_result",
    "answer_for_unverified",
    "handle_sns_request",
    "handle_sns_request_sync",
    "merge_headers",
    "too_large",
]

logger = logging.getLogger("sesflow.integrations")

MAX_BODY_SIZE: Final = 1024 * 1024
"""The default cap on a request body (bytes); an SNS message is at most 256 KiB, its envelope a bit more."""

_MAX_ECHOED_ID: Final = (
    128  # SNS MessageIds are UUIDs; a request's own id is echoed only if it looks like one
)


@attrs.frozen
class WebhookResponse:
    """What to answer SNS: an HTTP status and a small JSON body (``status`` and the SNS ``messageId``)."""

    status: int
    body: Mapping[str, str]

    @classmethod
    def of(cls, status: int, outcome: str, message_id: str = "") -> WebhookResponse:
        """The answer; ``messageId`` is echoed only when it is short printable ASCII (it may come from a
        forged request, and must never break the JSON encoding of the answer or bloat it)."""
        body = {"status": outcome}
        if (
            message_id
            and len(message_id) <= _MAX_ECHOED_ID
            and message_id.isascii()
            and message_id.isprintable()
        ):
            body["messageId"] = message_id
        return cls(status, body)


def too_large(limit: int) -> WebhookResponse:
    """The answer to a body over ``limit`` bytes."""
    logger.warning("refused an SNS webhook request larger than %d bytes", limit)
    return WebhookResponse.of(413, "too large")


def merge_headers(pairs: Iterable[tuple[str, str]]) -> dict[str, str] | None:
    """Header pairs as one mapping with lower-cased names; None when one name has two different values
    (the request cannot be trusted to be one SNS delivery)."""
    headers: dict[str, str] = {}
    for name, value in pairs:
        key = name.lower()
        if key in headers and headers[key] != value:
            return None
        headers[key] = value
    return headers


def answer_for_unverified(item: SourceItem) -> WebhookResponse | None:
    """The answer for an item that never verified (or was not an SNS delivery at all); None for an item that
    verified, which goes on to the router."""
    if item.meta.get("sns_verified") is True:
        return None
    error = item.error
    if error is None:
        raise AssertionError("an item that did not verify carries its error")  # verifier is always given
    if isinstance(error, SnsReplayError):
        # Verified, and already handled: 2xx so SNS stops delivering it; nothing runs again.
        logger.info(
            "SNS message %s was already handled; answered 200 without handling it again", item.item_id
        )
        return WebhookResponse.of(200, "duplicate", item.item_id)
    if isinstance(error, SnsVerificationError):
        if getattr(error, "retryable", False):
            logger.warning("SNS message %s could not be verified yet: %s", item.item_id, error)
            return WebhookResponse.of(503, "verification unavailable", item.item_id)
        logger.warning("rejected an SNS webhook request that failed verification: %s", error)
        return WebhookResponse.of(403, "verification failed", item.item_id)
    kind = "not an SNS delivery" if isinstance(error, SourceError) else "invalid"
    logger.warning("rejected an SNS webhook request (%s): %s", kind, error)
    return WebhookResponse.of(400, kind, item.item_id)


def answer_for_result(result: DispatchResult) -> WebhookResponse:
    """The answer once a verified item went through the router."""
    message_id = result.item_id or ""
    if result.failures:
        # A handler (or the dead-letter hook) failed: let SNS deliver again.
        return WebhookResponse.of(500, "handler failed", message_id)
    if result.error is not None:
        item = result.item
        logger.error(
            "verified SNS message %s is not an SES record (%s); answered 200 so SNS does not retry what "
            "cannot succeed. Payload: %r",
            message_id,
            result.error,
            item.raw if item is not None else None,
        )
        return WebhookResponse.of(200, "dead-lettered", message_id)
    return WebhookResponse.of(200, "handled", message_id)


def _repeated_header() -> WebhookResponse:
    logger.warning("rejected an SNS webhook request that repeats a header with different values")
    return WebhookResponse.of(400, "not an SNS delivery")


def _confirmation_refused(
    record: SnsSubscriptionConfirmation, item: SourceItem, exc: SnsVerificationError
) -> WebhookResponse:
    """The answer when confirming the subscription of ``record`` failed with ``exc``."""
    retryable = getattr(exc, "retryable", False)
    logger.error("did not confirm the subscription to %s: %s", record.topic_arn, exc)
    return WebhookResponse.of(503 if retryable else 403, "confirmation refused", item.item_id)


def _confirmer(verifier: MessageVerifier, method: str) -> Any:
    """The verifier's confirmation method (``method``), or a TypeError saying an SnsVerifier is needed."""
    confirm = getattr(verifier, method, None)
    if confirm is None:
        raise TypeError(f"confirm_subscriptions=True needs a verifier with {method} (an SnsVerifier)")
    return confirm


def _unconfirmed(item: SourceItem, confirm_subscriptions: bool) -> SnsSubscriptionConfirmation | None:
    """The subscription confirmation ``item`` carries when it is to be confirmed, else None."""
    record = item.record
    if isinstance(record, SnsSubscriptionConfirmation) and confirm_subscriptions:
        return record
    return None


async def handle_sns_request(
    body: bytes,
    headers: Mapping[str, str] | None,
    *,
    router: EventRouter,
    verifier: MessageVerifier,
    confirm_subscriptions: bool = True,
    confirm_any_topic: bool = False,
) -> WebhookResponse:
    """Verify, confirm or dispatch one SNS HTTP(S) delivery and say what to answer.

    ``headers`` is None when the request repeated a header with different values (see ``merge_headers``).
    A ``SubscriptionConfirmation`` is confirmed (when ``confirm_subscriptions``; see
    ``confirm_subscription_async`` for the checks) and then, like an
    ``UnsubscribeConfirmation`` (never followed), dispatched to the router's ``on_control`` handlers. A
    message answered 200 is marked handled in the verifier's replay guard, if it has one; a message the guard
    already remembers is answered 200 ``duplicate`` without reaching the router.
    """
    if headers is None:
        return _repeated_header()
    item = await sns_http_item_async(body, headers, verifier=verifier)
    rejected = answer_for_unverified(item)
    if rejected is not None:
        return rejected
    record = _unconfirmed(item, confirm_subscriptions)
    if record is not None:
        confirm = _confirmer(verifier, "confirm_subscription_async")
        try:
            subscription: Any = await confirm(record.raw, confirm_any_topic=confirm_any_topic)
        except SnsVerificationError as exc:
            return _confirmation_refused(record, item, exc)
        logger.info("confirmed SNS subscription %s", subscription)
    return _answer_and_mark(await router.dispatch_item_async(item), item, verifier)


def _answer_and_mark(result: DispatchResult, item: SourceItem, verifier: MessageVerifier) -> WebhookResponse:
    answer = answer_for_result(result)
    if answer.status == 200:
        # Only now, never on a failure: SNS's redelivery after a 5xx carries the same MessageId.
        mark_handled(verifier, item)
    return answer


def handle_sns_request_sync(
    body: bytes,
    headers: Mapping[str, str] | None,
    *,
    router: EventRouter,
    verifier: MessageVerifier,
    confirm_subscriptions: bool = True,
    confirm_any_topic: bool = False,
) -> WebhookResponse:
    """The blocking twin of ``handle_sns_request``, for synchronous frameworks (Django, Flask).

    Same decisions and answers; the certificate and the confirmation are fetched with the verifier's blocking
    methods and the router's plain-function handlers run in the calling thread (``router.dispatch_item``), so
    they may use blocking libraries (a database driver, an ORM) as they would anywhere else in the request.
    """
    if headers is None:
        return _repeated_header()
    item = sns_http_item(body, headers, verifier=verifier)
    rejected = answer_for_unverified(item)
    if rejected is not None:
        return rejected
    record = _unconfirmed(item, confirm_subscriptions)
    if record is not None:
        confirm = _confirmer(verifier, "confirm_subscription")
        try:
            subscription: Any = confirm(record.raw, confirm_any_topic=confirm_any_topic)
        except SnsVerificationError as exc:
            return _confirmation_refused(record, item, exc)
        logger.info("confirmed SNS subscription %s", subscription)
    return _answer_and_mark(router.dispatch_item(item), item, verifier)
