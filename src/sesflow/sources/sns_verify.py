"""Verify that an SNS message was signed by Amazon SNS, and confirm subscriptions safely.

The checks, in the order they run (everything up to the certificate URL runs before any network request):

1. the message is an SNS envelope of a known ``Type`` with every signed field present as valid Unicode text,
   and no signed field but ``Message`` holds a line break or control character (see ``canonical_string``);
2. its ``TopicArn`` is in the allowlist, when one is given;
3. ``SignatureVersion`` is ``1`` (SHA1) or ``2`` (SHA256) and ``Signature`` is base64;
4. ``Timestamp`` is at most ``max_age`` old and at most ``clock_skew`` in the future (replay window);
5. ``SigningCertURL`` is exactly ``https://sns.<region>.amazonaws.com[.cn]/SimpleNotificationService-<hex>.pem``;
6. the certificate (cached by URL) holds an RSA key of at least 2048 bits, names SNS (``sns.amazonaws.com``,
   or the partition's name) and was valid at the message's ``Timestamp``;
7. the signature over the canonical string verifies with the version's hash;
8. with a replay guard, the ``MessageId`` is not one already handled.

Whatever the input, only ``SnsVerificationError`` subclasses come out: an unexpected
exception inside the checks becomes ``SnsUnexpectedError`` (logged with its traceback).

The pure core (``check_signing_cert_url``, ``canonical_string``, ``verify_with_certificate``,
``check_subscribe_url``, ``subscription_confirmation_params``) does no IO. ``SnsVerifier`` adds
the certificate cache and the only IO: fetching certificates and, on request, confirmation URLs, sync or
async.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import collections
import contextlib
import ipaddress
import logging
import re
import ssl
import threading
import urllib.error
import urllib.parse
import urllib.request
import weakref
from collections.abc import Awaitable, Callable, Collection, Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Protocol

import attrs
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from .._public import publish
from ..errors import SnsReplayError, SnsVerificationError
from ._common import shown_value

__all__ = [
    "SnsVerifier",
    "ReplayGuard",
    "MemoryReplayGuard",
    "SnsCertificateUrlError",
    "SnsCertificateFetchError",
    "SnsSubscriptionError",
    "SnsReplayError",
    "SnsReplayGuardError",
    "SnsUnexpectedError",
    "ConfirmSubscriptionParams",
    "check_signing_cert_url",
    "check_subscribe_url",
    "canonical_string",
    "verify_with_certificate",
    "subscription_confirmation_params",
    "NOTIFICATION",
    "SUBSCRIPTION_CONFIRMATION",
    "UNSUBSCRIBE_CONFIRMATION",
]

_log = logging.getLogger("sesflow.sources.sns_verify")

NOTIFICATION: Final = "Notification"
SUBSCRIPTION_CONFIRMATION: Final = "SubscriptionConfirmation"
UNSUBSCRIBE_CONFIRMATION: Final = "UnsubscribeConfirmation"

_CONFIRMATION_KEYS: Final = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
# The keys of the string SNS signs, in the order it signs them. Only Subject may be absent.
_SIGNED_KEYS: Final[Mapping[str, tuple[str, ...]]] = {
    NOTIFICATION: ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    SUBSCRIPTION_CONFIRMATION: _CONFIRMATION_KEYS,
    UNSUBSCRIBE_CONFIRMATION: _CONFIRMATION_KEYS,
}
_OPTIONAL_KEYS: Final = frozenset({"Subject"})
# HTTP and SQS deliveries spell these ...URL; Lambda's SNS event spells them ...Url.
_LAMBDA_SPELLING: Final[Mapping[str, str]] = {
    "SigningCertURL": "SigningCertUrl",
    "SubscribeURL": "SubscribeUrl",
    "UnsubscribeURL": "UnsubscribeUrl",
}
_HASHES: Final[Mapping[str, Callable[[], hashes.HashAlgorithm]]] = {
    "1": hashes.SHA1,  # SNS's original scheme; verification only, not a choice this library makes.
    "2": hashes.SHA256,
}

_REGION: Final = r"[a-z]{2}(?:-[a-z]+)+-[0-9]{1,2}"
_SNS_HOST_RE: Final = re.compile(rf"sns\.(?P<region>{_REGION})\.amazonaws\.com(?P<cn>\.cn)?")
_CERT_PATH_RE: Final = re.compile(r"/SimpleNotificationService-[0-9a-f]+\.pem")
# The whole rule in one expression: the final gate after the step-by-step checks that explain a rejection.
_CERT_URL_RE: Final = re.compile(
    rf"https://sns\.{_REGION}\.amazonaws\.com(?:\.cn)?/SimpleNotificationService-[0-9a-f]+\.pem"
)
_TOPIC_ARN_RE: Final = re.compile(
    rf"arn:(?P<partition>aws(?:-[a-z]+)*):sns:(?P<region>{_REGION}):(?P<account>[0-9]{{12}}):"
    r"(?P<name>[A-Za-z0-9_-]{1,256}(?:\.fifo)?)"
)
_SUBSCRIPTION_ARN_RE: Final = re.compile(rb"<SubscriptionArn>\s*([^<\s]+)\s*</SubscriptionArn>")
# SNS signs "key\nvalue\n" pairs. Only Message may hold a line break or control character: one anywhere else
# could carry text from one signed field into the next (MessageId "x\nSubject\ny" and no Subject sign the same
# bytes as MessageId "x" and Subject "y"), keeping a genuine signature valid over different fields.
_CONTROL_RE: Final = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# A lone surrogate is valid JSON but not Unicode text: no UTF-8 message SNS signed can hold one.
_SURROGATE_RE: Final = re.compile(r"[\ud800-\udfff]")
# How SNS writes Timestamp (2022-03-28T23:59:33.713Z); an offset instead of Z is accepted too.
_TIMESTAMP_RE: Final = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?(?:Z|[+-][0-9]{2}:[0-9]{2})"
)
# What SNS signing certificates are issued to (the names AWS's own SDK for Java checks: sns.<domain> in
# general, sns-<region>.<domain> for the China and GovCloud regions it special-cases).
_SNS_CERT_NAME: Final = "sns.{domain}"
_SNS_REGIONAL_CERT_NAME: Final = "sns-{region}.{domain}"

_MIN_RSA_BITS: Final = 2048
_MAX_RESPONSE_BYTES: Final = 64 * 1024  # a certificate is ~2 KiB; refuse to buffer anything large
_URL_IN_MESSAGE_CHARS: Final = 200
_MAX_SIGNATURE_CHARS: Final = 4096  # base64 of an RSA-16384 signature; SNS's are 256 or 512 bytes
_MAX_MESSAGE_ID_CHARS: Final = 256  # SNS's are UUIDs; a longer one is not kept on an error


# ---------------------------------------------------------------------------------------------------------
# Errors


class SnsCertificateUrlError(SnsVerificationError):
    """A ``SigningCertURL`` or ``SubscribeURL`` is not an Amazon SNS URL; nothing was fetched.

    The message is forged or corrupt and will never verify: answer it with a 4xx and do not retry it.
    """


class SnsCertificateFetchError(SnsVerificationError):
    """The signing certificate could not be fetched or is not a usable certificate.

    ``retryable`` is true when the cause may go away (network error, timeout, a 5xx answer): an HTTPS endpoint
    should then answer 5xx so SNS redelivers, and a queue consumer should leave the message for a retry.
    Failures are never cached, so the next attempt fetches again.
    """

    def __init__(self, reason: str, *, message_id: str | None = None, retryable: bool = True) -> None:
        super().__init__(reason, message_id=message_id)
        self.retryable = retryable


class SnsSubscriptionError(SnsVerificationError):
    """A subscription confirmation was refused (wrong type, topic not allowed, bad URL) or its request failed.

    ``retryable`` is true only when the confirmation request itself failed in a way a retry may fix.
    """

    def __init__(self, reason: str, *, message_id: str | None = None, retryable: bool = False) -> None:
        super().__init__(reason, message_id=message_id)
        self.retryable = retryable


class SnsReplayGuardError(SnsVerificationError):
    """The replay guard's store could not be asked whether a verified message was already handled.

    Always ``retryable``: the message itself verified, so an HTTPS endpoint answers 5xx (SNS delivers it
    again) and a queue consumer leaves it for a retry; nothing is lost while the store is down.
    """

    def __init__(self, reason: str, *, message_id: str | None = None) -> None:
        super().__init__(reason, message_id=message_id)
        self.retryable = True


class SnsUnexpectedError(SnsVerificationError):
    """Verification stopped on an exception it did not expect (a bug), so the message counts as not verified.

    The original exception is the ``__cause__`` and is logged with its traceback. Treat it like any failed
    verification (answer 4xx); please report it, since hostile input is meant to get a specific error.
    """


# ---------------------------------------------------------------------------------------------------------
# Pure core: field access, canonical string, URL rules


@contextlib.contextmanager
def _only_verification_errors(message: object) -> Iterator[None]:
    """Let only ``SnsVerificationError`` out: anything else is a bug, turned into SnsUnexpectedError.

    Defence in depth: every check raises its own error for hostile input; this boundary makes sure that a
    case nobody foresaw still counts as "not verified" instead of escaping as, say, a TypeError (which a
    webhook would answer with 500, and a worker might not survive). Cancellation passes through.
    """
    try:
        yield
    except SnsVerificationError:
        raise
    except Exception as exc:
        try:
            message_id = _message_id(message)
        except Exception:  # the message itself may be what fails
            message_id = None
        _log.exception(
            "unexpected error while verifying SNS message %s; it counts as not verified", message_id
        )
        raise SnsUnexpectedError(
            f"verification stopped on an unexpected {type(exc).__name__}, so the message counts as not "
            "verified; this is a bug (please report it with the logged traceback)",
            message_id=message_id,
        ) from exc


def _message_id(message: object) -> str | None:
    """The ``MessageId`` to name in an error, when it is plain, short, printable text (else None)."""
    if isinstance(message, Mapping):
        value = message.get("MessageId")
        if isinstance(value, str):
            text = str.__str__(value)
            if len(text) <= _MAX_MESSAGE_ID_CHARS and not _CONTROL_RE.search(text) and text.isprintable():
                return text
    return None


def _field(message: Mapping[str, Any], key: str) -> Any:
    """The value of ``key``, accepting Lambda's ``...Url`` spelling; ``None`` when absent.

    A message carrying both spellings with different values is rejected: the verifier would check one
    and the application might act on the other.
    """
    value = message.get(key)
    alias = _LAMBDA_SPELLING.get(key)
    if alias is not None and alias in message:
        other = message[alias]
        if key in message and other != value:
            raise SnsVerificationError(
                f"the SNS message carries both {key} and {alias} with different values; "
                "a genuine SNS message uses one spelling, so treat this one as forged",
                message_id=_message_id(message),
            )
        value = other
    return value


def _require_mapping(message: object) -> Mapping[str, Any]:
    if not isinstance(message, Mapping):
        raise SnsVerificationError(
            f"an SNS message must be a mapping (the decoded JSON envelope), got {type(message).__name__}; "
            "decode the request body or the SQS message body with json.loads first"
        )
    return message


def _message_type(message: Mapping[str, Any]) -> str:
    kind = message.get("Type")
    # Compared as plain text: a list or dict (unhashable) or a str subclass is never a known type.
    text = str.__str__(kind) if isinstance(kind, str) else None
    if text is None or text not in _SIGNED_KEYS:
        raise SnsVerificationError(
            f"SNS message Type {shown_value(kind)} is not one of {', '.join(_SIGNED_KEYS)}; "
            "this is not an SNS envelope (raw message delivery carries no signature to verify)",
            message_id=_message_id(message),
        )
    return text


def _signed_value(message: Mapping[str, Any], kind: str, key: str) -> str | None:
    """The text of signed field ``key`` (None for an absent Subject), refused unless it can only mean itself.

    Every signed field must be a string of valid Unicode (no lone surrogate); every one but ``Message`` must
    also be free of line breaks and control characters, so that no field can shift text into another.
    """
    value = _field(message, key)
    if value is None and key in _OPTIONAL_KEYS:
        return None
    if not isinstance(value, str):
        problem = "is missing" if value is None else f"is {shown_value(value)}, not a string"
        raise SnsVerificationError(
            f"signed field {key} of the SNS {kind} {problem}; pass the envelope exactly as SNS "
            "delivered it (do not decode its Message or drop fields)",
            message_id=_message_id(message),
        )
    text = str.__str__(value)  # the characters themselves, whatever a subclass overrides
    if _SURROGATE_RE.search(text):
        raise SnsVerificationError(
            f"signed field {key} of the SNS {kind} holds a lone surrogate, which is not Unicode text and "
            "cannot be UTF-8 encoded, so SNS never signed it; treat the message as forged",
            message_id=_message_id(message),
        )
    if key != "Message" and _CONTROL_RE.search(text):
        raise SnsVerificationError(
            f"signed field {key} of the SNS {kind} holds a line break or control character, which SNS "
            "never puts in any signed field but Message (one there could move text between signed "
            "fields); treat the message as forged",
            message_id=_message_id(message),
        )
    return text


def _signed_fields(message: object) -> tuple[str, dict[str, str]]:
    """The message's ``Type`` and the checked text of each signed field it carries, in signing order."""
    message = _require_mapping(message)
    kind = _message_type(message)
    fields: dict[str, str] = {}
    for key in _SIGNED_KEYS[kind]:
        text = _signed_value(message, kind, key)
        if text is not None:
            fields[key] = text
    return kind, fields


def _canonical(fields: Mapping[str, str]) -> bytes:
    # Every value was checked by _signed_value: valid Unicode, and one line except Message.
    return "".join(f"{key}\n{text}\n" for key, text in fields.items()).encode("utf-8")


def canonical_string(message: Mapping[str, Any]) -> bytes:
    """The bytes SNS signed for ``message``: ``key\\nvalue\\n`` for each signed key of its ``Type``, in order.

    ``Subject`` is skipped when absent (or ``null``, as Lambda's SNS event writes a missing subject); every
    other signed key must be present as a string. Lambda's ``SubscribeUrl`` spelling is accepted and signed
    under its canonical name ``SubscribeURL``. Only ``Message`` may hold line breaks or control characters
    (SNS never writes one elsewhere, and one elsewhere could shift text between fields under the same
    signature), and no field may hold a lone surrogate. Raises ``SnsVerificationError``.
    """
    with _only_verification_errors(message):
        return _canonical(_signed_fields(message)[1])


def _shown(url: str) -> str:
    if len(url) > _URL_IN_MESSAGE_CHARS:
        url = url[:_URL_IN_MESSAGE_CHARS] + "..."
    return repr(url)


@attrs.frozen
class _CheckedUrl:
    parts: urllib.parse.SplitResult
    region: str | None  # None for a test-only loopback origin


def _check_sns_url(
    url: object, *, what: str, message_id: str | None, test_origins: Collection[str]
) -> _CheckedUrl:
    """Rules shared by SigningCertURL and SubscribeURL: https, exact SNS host, no userinfo/port/fragment."""

    def bad(why: str) -> SnsCertificateUrlError:
        shown = _shown(url) if isinstance(url, str) else repr(type(url).__name__)
        return SnsCertificateUrlError(
            f"{what} {shown} rejected before any request: {why}. Amazon SNS uses only "
            "https://sns.<region>.amazonaws.com (or .amazonaws.com.cn) URLs without port, user or fragment; "
            "treat the message as forged (answer 4xx, do not retry)",
            message_id=message_id,
        )

    if not isinstance(url, str) or not url:
        raise bad("it is missing or empty")
    if not url.isascii() or "\\" in url or any(c.isspace() or not c.isprintable() for c in url):
        raise bad("it contains non-ASCII, whitespace, control or backslash characters")
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError as exc:
        raise bad(f"it is not a valid URL ({exc})") from None
    if parts.scheme != "https" or not url.startswith("https://"):
        raise bad("the scheme must be exactly 'https'")
    netloc = parts.netloc
    if "@" in netloc:
        raise bad("it carries userinfo ('user@host')")
    if "#" in url:
        raise bad("it carries a fragment")
    if netloc in test_origins:
        return _CheckedUrl(parts, None)
    if ":" in netloc:
        raise bad("it names a port")
    match = _SNS_HOST_RE.fullmatch(netloc)
    if match is None:
        raise bad(f"the host {netloc!r} is not sns.<region>.amazonaws.com")
    region = match["region"]
    if (match["cn"] is not None) != region.startswith("cn-"):
        raise bad(f"the host {netloc!r} pairs region {region} with the wrong domain")
    return _CheckedUrl(parts, region)


def _check_cert_url(url: object, *, message_id: str | None, test_origins: Collection[str]) -> str:
    checked = _check_sns_url(url, what="SigningCertURL", message_id=message_id, test_origins=test_origins)
    assert isinstance(url, str)
    reason = None
    if "?" in url:
        reason = "it carries a query string"
    elif _CERT_PATH_RE.fullmatch(checked.parts.path) is None:
        reason = "the path is not /SimpleNotificationService-<lowercase hex>.pem"
    elif checked.region is not None and _CERT_URL_RE.fullmatch(url) is None:
        reason = (
            "it is not of the form https://sns.<region>.amazonaws.com/SimpleNotificationService-<hex>.pem"
        )
    if reason is not None:
        raise SnsCertificateUrlError(
            f"SigningCertURL {_shown(url)} rejected before any request: {reason}. Amazon SNS serves signing "
            "certificates only from https://sns.<region>.amazonaws.com/SimpleNotificationService-<hex>.pem; "
            "treat the message as forged (answer 4xx, do not retry)",
            message_id=message_id,
        )
    return url


def check_signing_cert_url(url: str) -> None:
    """Raise ``SnsCertificateUrlError`` unless ``url`` is a genuine SNS signing-certificate URL.

    Accepted: exactly ``https://sns.<region>.amazonaws.com/SimpleNotificationService-<hex>.pem`` (China
    regions: ``.amazonaws.com.cn``), lowercase, ASCII, with no userinfo, port, query or fragment. Everything
    else (other hosts, S3 or other services under amazonaws.com, lookalikes, ``http``) is refused; this rule
    has no switch to loosen it.
    """
    with _only_verification_errors(None):
        _check_cert_url(url, message_id=None, test_origins=())


def _topic_region(topic_arn: str, *, message_id: str | None) -> str:
    match = _TOPIC_ARN_RE.fullmatch(topic_arn)
    if match is None:
        raise SnsSubscriptionError(
            f"TopicArn {shown_value(topic_arn)} is not an SNS topic ARN "
            "(arn:aws:sns:<region>:<account>:<name>)",
            message_id=message_id,
        )
    return match["region"]


def _check_subscribe_url(
    message: Mapping[str, Any], *, test_origins: Collection[str], key: str = "SubscribeURL"
) -> str:
    message_id = _message_id(message)
    url = _field(message, key)
    checked = _check_sns_url(url, what=key, message_id=message_id, test_origins=test_origins)
    assert isinstance(url, str)

    def bad(why: str) -> SnsCertificateUrlError:
        return SnsCertificateUrlError(
            f"{key} {_shown(url)} rejected before any request: {why}. A genuine one is https://sns."
            "<region>.amazonaws.com/?Action=ConfirmSubscription&TopicArn=<the topic>&Token=<token>",
            message_id=message_id,
        )

    if checked.parts.path != "/":
        raise bad("the path must be '/'")
    try:
        pairs = urllib.parse.parse_qsl(checked.parts.query, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise bad("the query string is malformed") from None
    params: dict[str, str] = {}
    for name, value in pairs:
        if name in params:
            raise bad(f"the query repeats {name}")
        params[name] = value
    if params.get("Action") != "ConfirmSubscription":
        raise bad("Action is not ConfirmSubscription")
    topic_arn = message.get("TopicArn")
    if params.get("TopicArn") != topic_arn:
        raise bad("its TopicArn differs from the message's TopicArn")
    if params.get("Token") != message.get("Token"):
        raise bad("its Token differs from the message's Token")
    if checked.region is not None:
        assert isinstance(topic_arn, str)
        region = _topic_region(topic_arn, message_id=message_id)
        if region != checked.region:
            raise bad(f"its host region {checked.region} differs from the topic's region {region}")
    return url


def check_subscribe_url(message: Mapping[str, Any]) -> str:
    """Return the ``SubscribeURL`` of ``message`` after checking it is a genuine SNS confirmation URL.

    It must be ``https://sns.<region>.amazonaws.com[.cn]/`` (no userinfo, port or fragment) with the query
    ``Action=ConfirmSubscription``, the message's own ``TopicArn`` and ``Token``, and the host's region must
    be the topic's region. Raises ``SnsCertificateUrlError``. This checks the URL only: verify the
    message first (``SnsVerifier.verify``), or let ``SnsVerifier.confirm_subscription`` do both.
    """
    with _only_verification_errors(message):
        return _check_subscribe_url(_require_mapping(message), test_origins=())


# ---------------------------------------------------------------------------------------------------------
# Pure core: the checks that need no certificate, then the ones that do


@attrs.frozen
class _Prepared:
    message_id: str | None  # for errors: None unless plain printable text
    replay_key: str  # the signed MessageId, as the replay guard knows it
    cert_url: str
    timestamp: datetime
    algorithm: hashes.HashAlgorithm
    signature: bytes = attrs.field(repr=False)
    signed: bytes = attrs.field(repr=False)


def _parse_timestamp(value: str, *, message_id: str | None) -> datetime:
    """The aware time of ``Timestamp``, kept in its own offset (converting a year-1 or year-9999 time to UTC
    could overflow; comparing aware times never does)."""
    try:
        stamp = datetime.fromisoformat(value) if _TIMESTAMP_RE.fullmatch(value) else None
    except ValueError:
        stamp = None
    if stamp is None or stamp.utcoffset() is None:
        raise SnsVerificationError(
            f"SNS Timestamp {shown_value(value)} is not an ISO 8601 time with a time zone "
            "(SNS writes e.g. 2022-03-28T23:59:33.713Z); the message is corrupt",
            message_id=message_id,
        )
    return stamp


def _check_now(
    now: object, what: str = "the clock must return", example: str = "datetime.now(UTC)"
) -> datetime:
    """``now`` if it is an aware datetime; a ValueError (a programming error, not a bad message) otherwise."""
    if not isinstance(now, datetime) or now.utcoffset() is None:
        got = "a naive one" if isinstance(now, datetime) else type(now).__name__
        raise ValueError(f"{what} an aware datetime (e.g. {example}), got {got}")
    return now


def _prepare(
    message: object,
    *,
    now: datetime,
    max_age: timedelta,
    clock_skew: timedelta,
    topic_arns: Collection[str] | None,
    test_origins: Collection[str],
) -> _Prepared:
    """Every check that needs no certificate; runs before any network request. ``now`` is aware."""
    message = _require_mapping(message)
    message_id = _message_id(message)
    _, fields = _signed_fields(message)
    signed = _canonical(fields)
    topic_arn = fields["TopicArn"]
    if topic_arns is not None and topic_arn not in topic_arns:
        raise SnsVerificationError(
            f"TopicArn {shown_value(topic_arn)} is not in this verifier's topic allowlist; add it to "
            "topic_arns if messages from that topic are expected, otherwise the message is not for this "
            "endpoint",
            message_id=message_id,
        )
    version = message.get("SignatureVersion")
    hash_factory = _HASHES.get(str.__str__(version)) if isinstance(version, str) else None
    if hash_factory is None:
        raise SnsVerificationError(
            f"SignatureVersion {shown_value(version)} is not supported: "
            "SNS signs with version '1' (SHA1) or '2' (SHA256)",
            message_id=message_id,
        )
    encoded = message.get("Signature")
    try:
        if not isinstance(encoded, str) or not 0 < len(encoded) <= _MAX_SIGNATURE_CHARS:
            raise ValueError
        signature = base64.b64decode(str.__str__(encoded), validate=True)
    except (ValueError, binascii.Error):
        raise SnsVerificationError(
            "the SNS message's Signature is missing, too long or not base64; the message is corrupt or "
            "forged",
            message_id=message_id,
        ) from None
    timestamp = _parse_timestamp(fields["Timestamp"], message_id=message_id)
    # A difference of two aware datetimes cannot overflow (now - max_age could, near year 1 or 9999).
    age = now - timestamp
    if age > max_age:
        raise SnsVerificationError(
            f"SNS message Timestamp {timestamp.isoformat()} is older than the allowed {max_age} "
            f"(now {now.isoformat()}): a replay or a long-delayed message; if your queue delays delivery "
            "longer, raise max_age",
            message_id=message_id,
        )
    if -age > clock_skew:
        raise SnsVerificationError(
            f"SNS message Timestamp {timestamp.isoformat()} is more than {clock_skew} in the future "
            f"(now {now.isoformat()}); check this host's clock",
            message_id=message_id,
        )
    cert_url = _check_cert_url(
        _field(message, "SigningCertURL"), message_id=message_id, test_origins=test_origins
    )
    return _Prepared(message_id, fields["MessageId"], cert_url, timestamp, hash_factory(), signature, signed)


def _sns_certificate_names(url: str) -> frozenset[str]:
    """The names an SNS signing certificate served at ``url`` may be issued to (lower case).

    ``sns.amazonaws.com`` (``sns.amazonaws.com.cn`` in China), or the region's own ``sns-<region>.<domain>``
    (as for GovCloud ``sns-us-gov-west-1.amazonaws.com`` and China ``sns-cn-north-1.amazonaws.com.cn``). A
    test-only loopback origin gets ``sns.amazonaws.com``.
    """
    match = _SNS_HOST_RE.fullmatch(urllib.parse.urlsplit(url).netloc)
    if match is None:
        return frozenset({_SNS_CERT_NAME.format(domain="amazonaws.com")})
    domain = "amazonaws.com.cn" if match["cn"] else "amazonaws.com"
    return frozenset(
        {
            _SNS_CERT_NAME.format(domain=domain),
            _SNS_REGIONAL_CERT_NAME.format(region=match["region"], domain=domain),
        }
    )


def _certificate_names(cert: x509.Certificate) -> set[str]:
    """The subject's common names and the subjectAltName DNS names, lower case."""
    names = {
        attribute.value
        for attribute in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        if isinstance(attribute.value, str)
    }
    try:
        alt_names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        pass
    else:
        names.update(alt_names.get_values_for_type(x509.DNSName))
    return {name.lower() for name in names}


def _signs_digitally(cert: x509.Certificate) -> bool:
    """False only when the certificate restricts its key's usage and digital signatures are not among them."""
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return True
    return usage.digital_signature


def _load_certificate(data: object, *, url: str, message_id: str | None) -> x509.Certificate:
    """Parse a fetched or given PEM certificate and insist that it is one SNS signs with.

    It must hold an RSA key of at least 2048 bits, be issued to an SNS name for ``url``'s partition
    (``_sns_certificate_names``: a subject common name or subjectAltName DNS name) and, if it restricts
    its key's usage, allow digital signatures. The same rule applies to fetched, injected and given
    certificates.
    """

    def unusable(why: str) -> SnsCertificateFetchError:
        return SnsCertificateFetchError(
            f"the certificate for {_shown(url)} {why}", message_id=message_id, retryable=False
        )

    if not isinstance(data, bytes):
        raise unusable(f"is {shown_value(data)}, not the bytes of a PEM X.509 certificate")
    try:
        cert = x509.load_pem_x509_certificate(data)
    except ValueError:
        raise unusable("is not a PEM X.509 certificate") from None
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey) or key.key_size < _MIN_RSA_BITS:
        raise unusable(
            f"does not hold an RSA key of at least {_MIN_RSA_BITS} bits, which SNS signing certificates "
            "always do"
        )
    expected = _sns_certificate_names(url)
    try:
        names = _certificate_names(cert)
        signs = _signs_digitally(cert)
    except ValueError as exc:  # a malformed or repeated extension
        raise unusable(f"has extensions that cannot be read ({exc})") from None
    if not names & expected:
        shown = ", ".join(shown_value(name) for name in sorted(names)[:5]) or "no name"
        raise unusable(
            f"is issued to {shown}, not to Amazon SNS ({' or '.join(sorted(expected))}); it is not an "
            "SNS signing certificate, so nothing it signed can be trusted"
        )
    if not signs:
        raise unusable("does not allow its key to make digital signatures, so SNS does not sign with it")
    return cert


def _finish(prepared: _Prepared, cert: x509.Certificate) -> None:
    """The checks that need the certificate: validity at the message's time, then the signature."""
    if not cert.not_valid_before_utc <= prepared.timestamp <= cert.not_valid_after_utc:
        raise SnsVerificationError(
            "the signing certificate was not valid at the message's Timestamp "
            f"{prepared.timestamp.isoformat()} "
            f"(valid {cert.not_valid_before_utc.isoformat()} to {cert.not_valid_after_utc.isoformat()})",
            message_id=prepared.message_id,
        )
    key = cert.public_key()
    assert isinstance(key, rsa.RSAPublicKey)  # _load_certificate admits nothing else
    try:
        key.verify(prepared.signature, prepared.signed, padding.PKCS1v15(), prepared.algorithm)
    except InvalidSignature:
        raise SnsVerificationError(
            f"the SNS signature ({prepared.algorithm.name.upper()}withRSA) does not match the message: "
            "it was altered or forged; do not act on it",
            message_id=prepared.message_id,
        ) from None


def verify_with_certificate(
    message: Mapping[str, Any],
    cert_pem: bytes,
    now: datetime,
    *,
    max_age: timedelta = timedelta(hours=1),
    clock_skew: timedelta = timedelta(minutes=5),
    topic_arns: Collection[str] | None = None,
) -> None:
    """Verify ``message`` against a certificate you already hold, with no IO.

    Runs every check of ``SnsVerifier`` (including the strict ``SigningCertURL`` rule, since the
    certificate is only trustworthy as the one SNS serves there, and the rule on the certificate itself)
    with ``now`` (an aware datetime) as the current time; there is no replay guard here.
    Raises ``SnsVerificationError``.
    """
    now = _check_now(now, "now must be")
    with _only_verification_errors(message):
        prepared = _prepare(
            message, now=now, max_age=max_age, clock_skew=clock_skew, topic_arns=topic_arns, test_origins=()
        )
        cert = _load_certificate(cert_pem, url=prepared.cert_url, message_id=prepared.message_id)
        _finish(prepared, cert)


# ---------------------------------------------------------------------------------------------------------
# Subscription confirmation through the SNS API


@attrs.frozen
class ConfirmSubscriptionParams:
    """What the SNS ``ConfirmSubscription`` API needs, for users who confirm through boto3 instead of the URL.

    Call it in the topic's region: ``boto3.client("sns", region_name=p.region).confirm_subscription(
    **p.as_kwargs())``.
    """

    topic_arn: str
    token: str = attrs.field(repr=False)
    region: str
    authenticate_on_unsubscribe: bool = False

    def as_kwargs(self) -> dict[str, str]:
        """The keyword arguments of boto3's ``confirm_subscription``."""
        kwargs = {"TopicArn": self.topic_arn, "Token": self.token}
        if self.authenticate_on_unsubscribe:
            kwargs["AuthenticateOnUnsubscribe"] = "true"
        return kwargs


def _require_subscription_confirmation(message: Mapping[str, Any]) -> None:
    kind = message.get("Type")
    if kind == UNSUBSCRIBE_CONFIRMATION:
        raise SnsSubscriptionError(
            "refusing to act on an UnsubscribeConfirmation: following its SubscribeURL would subscribe the "
            "endpoint again; acknowledge it (2xx) and ignore it, or resubscribe deliberately",
            message_id=_message_id(message),
        )
    if kind != SUBSCRIPTION_CONFIRMATION:
        raise SnsSubscriptionError(
            f"only a SubscriptionConfirmation can be confirmed, this message's Type is {shown_value(kind)}",
            message_id=_message_id(message),
        )


def subscription_confirmation_params(
    message: Mapping[str, Any], *, authenticate_on_unsubscribe: bool = False
) -> ConfirmSubscriptionParams:
    """``ConfirmSubscription`` parameters (``TopicArn``, ``Token``, region) of a SubscriptionConfirmation.

    Pure: it does not verify. Verify the message first (and check its topic is one you expect);
    ``authenticate_on_unsubscribe`` makes SNS require AWS credentials to unsubscribe the endpoint.
    Raises ``SnsSubscriptionError`` for any other message type (never an UnsubscribeConfirmation).
    """
    with _only_verification_errors(message):
        message = _require_mapping(message)
        _require_subscription_confirmation(message)
        message_id = _message_id(message)
        topic_arn, token = message.get("TopicArn"), message.get("Token")
        if not isinstance(topic_arn, str) or not isinstance(token, str) or not token:
            raise SnsSubscriptionError(
                "the SubscriptionConfirmation lacks a TopicArn or Token string", message_id=message_id
            )
        region = _topic_region(topic_arn, message_id=message_id)
        return ConfirmSubscriptionParams(topic_arn, token, region, authenticate_on_unsubscribe)


def _subscription_arn(body: bytes, url: str) -> str:
    match = _SUBSCRIPTION_ARN_RE.search(body)
    return match[1].decode("ascii", "replace") if match else url


# ---------------------------------------------------------------------------------------------------------
# Transports: the only IO


class _HttpStatusError(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A validated URL must be the URL fetched: a redirect is an error, never followed."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _urllib_get(url: str, *, timeout: float, ssl_context: ssl.SSLContext) -> bytes:
    """GET an already validated https URL; no redirects, no proxies from the environment, bounded body."""
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}),
        urllib.request.HTTPSHandler(context=ssl_context),
        _NoRedirects(),
    )
    request = urllib.request.Request(url, headers={"User-Agent": "sesflow"})  # noqa: S310 - validated https
    try:
        with opener.open(request, timeout=timeout) as response:
            status = response.status
            body: bytes = response.read(_MAX_RESPONSE_BYTES + 1)
    except urllib.error.HTTPError as exc:
        exc.close()
        raise _HttpStatusError(exc.code) from None
    if status != 200:
        raise _HttpStatusError(status)
    if len(body) > _MAX_RESPONSE_BYTES:
        raise ValueError(f"response larger than {_MAX_RESPONSE_BYTES} bytes")
    return body


def _load_aiohttp() -> Any:
    """The aiohttp module when installed (the ``aiohttp`` extra), else None: fetches then run in a thread."""
    try:
        import aiohttp
    except ImportError:
        return None
    return aiohttp


async def _aiohttp_get(aiohttp: Any, url: str, *, seconds: float, ssl_context: ssl.SSLContext) -> bytes:
    """GET with aiohttp under the rules of ``_urllib_get``: no redirects, no proxies, bounded body."""
    import yarl  # aiohttp's own URL type; encoded=True sends the validated URL byte for byte

    headers = {"User-Agent": "sesflow"}
    target = yarl.URL(url, encoded=True)
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=seconds), trust_env=False) as session,
        session.get(target, ssl=ssl_context, allow_redirects=False, headers=headers) as response,
    ):
        if response.status != 200:
            raise _HttpStatusError(response.status)
        body: bytes = await response.content.read(_MAX_RESPONSE_BYTES + 1)
    if len(body) > _MAX_RESPONSE_BYTES:
        raise ValueError(f"response larger than {_MAX_RESPONSE_BYTES} bytes")
    return body


def _fetch_failure(exc: Exception) -> tuple[str, bool]:
    """What went wrong, and whether a retry may help (network trouble and 5xx: yes; 4xx, bad data: no)."""
    if isinstance(exc, _HttpStatusError):
        return f"the server answered HTTP {exc.status}", exc.status >= 500 or exc.status == 429
    if isinstance(exc, ValueError):
        return str(exc), False
    return f"{type(exc).__name__}: {exc}", True


# ---------------------------------------------------------------------------------------------------------
# The cache


@attrs.frozen
class _Entry:
    cert: x509.Certificate
    expires: datetime


class _CertificateCache:
    """Certificates by URL, least recently used evicted beyond ``size``, each kept ``ttl``; thread-safe."""

    def __init__(self, size: int, ttl: timedelta) -> None:
        self._size = size
        self._ttl = ttl
        self._entries: collections.OrderedDict[str, _Entry] = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, url: str, now: datetime) -> x509.Certificate | None:
        with self._lock:
            entry = self._entries.get(url)
            if entry is None:
                return None
            if now >= entry.expires:
                del self._entries[url]
                return None
            self._entries.move_to_end(url)
            return entry.cert

    def put(self, url: str, cert: x509.Certificate, now: datetime) -> None:
        if self._size == 0:
            return
        with self._lock:
            self._entries[url] = _Entry(cert, now + self._ttl)
            self._entries.move_to_end(url)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


# ---------------------------------------------------------------------------------------------------------
# The replay guard


class ReplayGuard(Protocol):
    """Where a verifier remembers the ``MessageId`` s of SNS messages that were handled.

    ``SnsVerifier`` asks ``seen`` after a message verified and refuses it (``SnsReplayError``)
    when the answer is true; it calls ``remember`` only from ``SnsVerifier.mark_handled``, once the
    message was handled. ``MemoryReplayGuard`` keeps the ids in the process; to share them between
    processes, implement these two methods over a shared store (a database table, Redis ``SET ... PX``).
    Both may raise: a failing ``seen`` makes the message retryable (``SnsReplayGuardError``), a
    failing ``remember`` is logged and only weakens the protection. They are called synchronously, also
    from ``SnsVerifier.verify_async``, so keep them quick.
    """

    def seen(self, message_id: str, now: datetime) -> bool:
        """True when ``message_id`` was remembered until a time after ``now`` (aware)."""
        ...

    def remember(self, message_id: str, until: datetime) -> None:
        """Remember ``message_id`` as handled until ``until`` (aware); remembering it again moves it."""
        ...


class MemoryReplayGuard:
    """A ``ReplayGuard`` in this process's memory: thread-safe, bounded, expired ids dropped as it goes.

    It holds at most ``max_entries`` ids; past that the oldest is forgotten (logged once at warning level),
    which lets that message be replayed again while it is still inside the verifier's age window. It does
    not see what other processes handled: with several workers or servers, share a store instead.
    """

    def __init__(self, max_entries: int = 100_000) -> None:
        if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 1:
            raise ValueError(f"max_entries must be a positive integer, got {max_entries!r}")
        self._max_entries = max_entries
        self._entries: collections.OrderedDict[str, datetime] = collections.OrderedDict()
        self._lock = threading.Lock()
        self._warned = False

    def seen(self, message_id: str, now: datetime) -> bool:
        with self._lock:
            self._drop_expired(now)
            until = self._entries.get(message_id)
            return until is not None and now < until

    def remember(self, message_id: str, until: datetime) -> None:
        with self._lock:
            self._entries.pop(message_id, None)
            self._entries[message_id] = until
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)
                if not self._warned:
                    self._warned = True
                    _log.warning(
                        "MemoryReplayGuard holds %d MessageIds and forgets the oldest: those messages could "
                        "be replayed again within the verifier's max_age; raise max_entries or share a store",
                        self._max_entries,
                    )

    def _drop_expired(self, now: datetime) -> None:
        # Ids are remembered for one fixed window, so insertion order is (about) expiry order.
        while self._entries:
            message_id, until = next(iter(self._entries.items()))
            if until > now:
                return
            del self._entries[message_id]

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


# ---------------------------------------------------------------------------------------------------------
# The verifier


def _loopback_origin(origin: str) -> str:
    """Validate one ``test_only_allowed_origins`` entry: ``host:port`` with a loopback host, nothing else."""
    try:
        parts = urllib.parse.urlsplit(f"//{origin}")
        port = parts.port
        host = parts.hostname
    except (ValueError, TypeError):
        port, host = None, None
    loopback = host == "localhost"
    if host is not None and not loopback:
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
    if not loopback or port is None or parts.netloc != origin or "@" in origin:
        raise ValueError(
            f"test_only_allowed_origins accepts only loopback 'host:port' origins such as '127.0.0.1:8443' "
            f"(for a local test server), got {origin!r}; production URLs need no allowance"
        )
    return origin


class SnsVerifier:
    """Verifies SNS messages (signature, certificate, age, topic) and confirms subscriptions safely.

    One verifier is meant to live for the whole process (its certificate cache is what makes verification
    cheap) and is safe to share between threads and event loops.

    Args:
        topic_arns: allowlist of topic ARNs; ``None`` accepts any topic.
        max_age: how old a message's ``Timestamp`` may be (replay window).
        clock: returns the current time as an aware datetime; ``datetime.now(UTC)`` when omitted.
        cache_size: how many certificates to keep (least recently used are dropped); 0 disables caching.
        cache_ttl: how long a fetched certificate is reused before being fetched again.
        fetch_timeout: seconds allowed for each certificate or confirmation request.
        fetcher: ``fetcher(url) -> body`` replaces the built-in HTTPS GET (urllib) for certificates and
            confirmation URLs, e.g. to serve a certificate from memory in tests. It only ever receives URLs
            that passed the URL rules; it should raise on anything but a 200 answer.
        async_fetcher: the same for ``verify_async`` / ``confirm_subscription_async``; when omitted
            they use aiohttp if installed, else run ``fetcher`` (or urllib) in a worker thread.
        ssl_context: TLS settings for the built-in fetchers; when omitted, a default verifying context
            (the system's CA store), created on the first real fetch, so a verifier with an injected
            fetcher never loads it. Tests pass a context that trusts their own CA.
        clock_skew: how far in the future a ``Timestamp`` may be (clock differences).
        replay_guard: remembers the ``MessageId`` s of handled messages (a ``MemoryReplayGuard``, or
            your ``ReplayGuard`` over a shared store) so that a verified message that was already
            handled is refused with ``SnsReplayError``. Ids are remembered only by
            ``mark_handled``, once handling succeeded, so a redelivery after a failure still verifies.
        test_only_allowed_origins: **for tests only.** Loopback ``host:port`` origins (e.g.
            ``"127.0.0.1:8443"``) whose https URLs are accepted in place of an SNS host, so a local HTTPS
            test server can serve certificates and confirmation answers. Only loopback hosts are accepted
            here (anything else raises ``ValueError``), every other URL rule still applies, TLS is still
            verified, and the module-level ``check_signing_cert_url`` never consults it.
    """

    def __init__(
        self,
        *,
        topic_arns: Iterable[str] | None = None,
        max_age: timedelta = timedelta(hours=1),
        clock: Callable[[], datetime] | None = None,
        cache_size: int = 32,
        cache_ttl: timedelta = timedelta(hours=24),
        fetch_timeout: float = 5.0,
        fetcher: Callable[[str], bytes] | None = None,
        async_fetcher: Callable[[str], Awaitable[bytes]] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        clock_skew: timedelta = timedelta(minutes=5),
        test_only_allowed_origins: Iterable[str] = (),
        replay_guard: ReplayGuard | None = None,
    ) -> None:
        if isinstance(topic_arns, str):
            raise TypeError("topic_arns must be a collection of ARNs, not one string: use [arn]")
        self._topic_arns = None if topic_arns is None else frozenset(topic_arns)
        if self._topic_arns is not None and not self._topic_arns:
            raise ValueError(
                "topic_arns is empty, which would reject every message; pass None to allow any topic"
            )
        if max_age <= timedelta(0) or clock_skew < timedelta(0):
            raise ValueError("max_age must be positive and clock_skew not negative")
        if cache_size < 0 or cache_ttl <= timedelta(0):
            raise ValueError("cache_size must be >= 0 and cache_ttl positive")
        if fetch_timeout <= 0:
            raise ValueError("fetch_timeout must be positive")
        if isinstance(test_only_allowed_origins, str):
            raise TypeError("test_only_allowed_origins must be a collection of origins, not one string")
        self._test_origins = frozenset(_loopback_origin(o) for o in test_only_allowed_origins)
        if self._test_origins:
            _log.warning(
                "SnsVerifier accepts URLs on test-only loopback origins %s; never use this in production",
                sorted(self._test_origins),
            )
        self._max_age = max_age
        self._clock_skew = clock_skew
        self._clock = clock
        self._cache = _CertificateCache(cache_size, cache_ttl)
        self._timeout = fetch_timeout
        self._fetcher = fetcher
        self._async_fetcher = async_fetcher
        # Loading the system CA store takes a while: only the first real fetch does it (_ssl_context).
        self._ssl = ssl_context
        self._ssl_lock = threading.Lock()
        if replay_guard is not None and not (
            callable(getattr(replay_guard, "seen", None))
            and callable(getattr(replay_guard, "remember", None))
        ):
            raise TypeError(
                "replay_guard must have seen(message_id, now) and remember(message_id, until) methods, "
                f"e.g. MemoryReplayGuard(); got {replay_guard!r}"
            )
        self._replay_guard = replay_guard
        self._inflight_lock = threading.Lock()
        self._inflight: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, dict[str, asyncio.Task[x509.Certificate]]
        ] = weakref.WeakKeyDictionary()

    @property
    def topic_arns(self) -> frozenset[str] | None:
        """The topic allowlist, or None when any topic is accepted."""
        return self._topic_arns

    @property
    def replay_guard(self) -> ReplayGuard | None:
        """The replay guard, or None when replays within ``max_age`` are not checked."""
        return self._replay_guard

    @property
    def cached_certificates(self) -> int:
        """How many certificates the cache holds now (expired ones are dropped when next looked up)."""
        return len(self._cache)

    def clear_cache(self) -> None:
        """Forget every cached certificate."""
        self._cache.clear()

    def _now(self) -> datetime:
        return _check_now(self._clock() if self._clock is not None else datetime.now(UTC))

    def _judged_at(self, delivered_at: datetime | None) -> datetime:
        """When the message's age is judged: now, or when it reached its queue. Raises ValueError (a
        programming error, outside the verification boundary) for a naive time."""
        if delivered_at is None:
            return self._now()
        return _check_now(delivered_at, "delivered_at must be", "SQS's SentTimestamp in UTC")

    def _prepare(self, message: Mapping[str, Any], judged_at: datetime) -> _Prepared:
        return _prepare(
            message,
            now=judged_at,
            max_age=self._max_age,
            clock_skew=self._clock_skew,
            topic_arns=self._topic_arns,
            test_origins=self._test_origins,
        )

    def _check_replay(self, prepared: _Prepared) -> None:
        """After the signature verified: refuse a message the replay guard remembers as handled."""
        guard = self._replay_guard
        if guard is None:
            return
        try:
            seen = guard.seen(prepared.replay_key, self._now())
        except Exception as exc:
            _log.warning("the replay guard could not be asked about %s: %r", prepared.message_id, exc)
            raise SnsReplayGuardError(
                f"the replay guard could not tell whether this verified message was already handled "
                f"({type(exc).__name__}); retry later",
                message_id=prepared.message_id,
            ) from exc
        if seen:
            raise SnsReplayError(
                "this genuine SNS message was already handled (its MessageId is in the replay guard): a "
                "replay or a redelivery after success; acknowledge it and do nothing",
                message_id=prepared.message_id,
            )

    def mark_handled(self, message_id: str) -> None:
        """Remember ``message_id`` (a verified message's ``MessageId``) as handled, in the replay guard.

        Call it only once the message was handled for good (the webhooks and the Lambda entry points do),
        never on a failure: SNS and SQS deliver a message again with the same ``MessageId`` when its
        handling failed, and that delivery must still verify. It is remembered for ``max_age`` plus
        ``clock_skew``, the time a replay of it would still pass the age check. Does nothing without a
        replay guard; a guard that fails is logged (the message was handled; only the protection is lost).
        """
        guard = self._replay_guard
        if guard is None:
            return
        now = self._now()
        try:
            until = now + self._max_age + self._clock_skew
        except OverflowError:
            until = datetime.max.replace(tzinfo=UTC)
        try:
            guard.remember(message_id, until)
        except Exception:
            _log.exception(
                "the replay guard could not remember SNS message %s; a replay of it would pass", message_id
            )

    # --- IO, sync ------------------------------------------------------------------------------------

    def _ssl_context(self) -> ssl.SSLContext:
        """The TLS context of the built-in fetchers, the default one created on first use (thread-safe)."""
        context = self._ssl
        if context is None:
            with self._ssl_lock:
                if self._ssl is None:
                    self._ssl = ssl.create_default_context()
                context = self._ssl
        return context

    def _get(self, url: str) -> bytes:
        if self._fetcher is not None:
            return self._fetcher(url)
        return _urllib_get(url, timeout=self._timeout, ssl_context=self._ssl_context())

    def _certificate(self, url: str, message_id: str | None) -> x509.Certificate:
        cert = self._cache.get(url, self._now())
        if cert is not None:
            return cert
        _log.debug("fetching SNS signing certificate %s", url)
        try:
            data = self._get(url)
        except Exception as exc:
            raise self._fetch_error(url, exc, message_id) from exc
        return self._store(url, data, message_id)

    def _store(self, url: str, data: bytes, message_id: str | None) -> x509.Certificate:
        cert = _load_certificate(data, url=url, message_id=message_id)
        self._cache.put(url, cert, self._now())
        return cert

    @staticmethod
    def _fetch_error(url: str, exc: Exception, message_id: str | None) -> SnsCertificateFetchError:
        why, retryable = _fetch_failure(exc)
        _log.warning("fetching SNS signing certificate %s failed: %s", url, why)
        return SnsCertificateFetchError(
            f"could not fetch the SNS signing certificate {_shown(url)}: {why}"
            + ("; retry later (failures are not cached)" if retryable else ""),
            message_id=message_id,
            retryable=retryable,
        )

    def verify(self, message: Mapping[str, Any], *, delivered_at: datetime | None = None) -> None:
        """Verify ``message`` (an SNS envelope as delivered), fetching its certificate if not cached.

        ``delivered_at`` (an aware datetime) is when SNS delivered the message to a queue (SQS's
        ``SentTimestamp``; the SQS source passes it): the replay window is then measured from that moment
        instead of now, so a message that waited in the queue is not rejected for its age. Its signature,
        certificate and topic are checked all the same.

        With a replay guard, a message it remembers as handled raises ``SnsReplayError`` (only once
        everything else verified). Raises ``SnsVerificationError`` (or a subclass from
        this module) saying why, and nothing else for any message; ``ValueError`` only for a naive
        ``delivered_at`` or clock (a programming error).
        """
        judged_at = self._judged_at(delivered_at)
        with _only_verification_errors(message):
            prepared = self._prepare(message, judged_at)
            _finish(prepared, self._certificate(prepared.cert_url, prepared.message_id))
            self._check_replay(prepared)

    # --- IO, async -----------------------------------------------------------------------------------

    async def _aget(self, url: str) -> bytes:
        if self._async_fetcher is not None:
            return await self._async_fetcher(url)
        if self._fetcher is None:
            aiohttp = _load_aiohttp()
            if aiohttp is not None:
                # Loading the CA store the first time blocks: do it off the event loop.
                context = self._ssl if self._ssl is not None else await asyncio.to_thread(self._ssl_context)
                return await _aiohttp_get(aiohttp, url, seconds=self._timeout, ssl_context=context)
        return await asyncio.to_thread(self._get, url)

    async def _fetch_and_store(self, url: str, message_id: str | None) -> x509.Certificate:
        _log.debug("fetching SNS signing certificate %s", url)
        try:
            data = await self._aget(url)
        except Exception as exc:
            raise self._fetch_error(url, exc, message_id) from exc
        return self._store(url, data, message_id)

    async def _certificate_async(self, url: str, message_id: str | None) -> x509.Certificate:
        cert = self._cache.get(url, self._now())
        if cert is not None:
            return cert
        loop = asyncio.get_running_loop()
        with self._inflight_lock:
            pending = self._inflight.setdefault(loop, {})
            task = pending.get(url)
            if task is None:
                # Single flight: concurrent verifications of one URL share this fetch.
                task = loop.create_task(self._fetch_and_store(url, None))
                pending[url] = task
                task.add_done_callback(lambda done: self._forget(loop, url, done))
        try:
            return await asyncio.shield(task)
        except SnsCertificateFetchError as exc:
            # The fetch is shared; the error each waiter sees names its own message.
            retryable = exc.retryable
            raise SnsCertificateFetchError(exc.reason, message_id=message_id, retryable=retryable) from exc

    def _forget(
        self, loop: asyncio.AbstractEventLoop, url: str, task: asyncio.Task[x509.Certificate]
    ) -> None:
        with self._inflight_lock:
            pending = self._inflight.get(loop)
            if pending is not None and pending.get(url) is task:
                del pending[url]
        if not task.cancelled():
            task.exception()  # retrieved here too, in case every waiter was cancelled

    async def verify_async(self, message: Mapping[str, Any], *, delivered_at: datetime | None = None) -> None:
        """Verify ``message`` like ``verify``, fetching without blocking the event loop.

        Concurrent verifications that need the same uncached certificate share one fetch.
        """
        judged_at = self._judged_at(delivered_at)
        with _only_verification_errors(message):
            prepared = self._prepare(message, judged_at)
            _finish(prepared, await self._certificate_async(prepared.cert_url, prepared.message_id))
            self._check_replay(prepared)

    # --- subscription confirmation -------------------------------------------------------------------

    def _check_confirmable(self, message: Mapping[str, Any], confirm_any_topic: bool) -> None:
        with _only_verification_errors(message):
            message = _require_mapping(message)
            _require_subscription_confirmation(message)
            if self._topic_arns is None and not confirm_any_topic:
                raise SnsSubscriptionError(
                    "refusing to confirm a subscription without a topic allowlist: anyone can subscribe "
                    "this endpoint to their own topic. Pass topic_arns to SnsVerifier, or "
                    "confirm_any_topic=True if accepting every topic is really intended",
                    message_id=_message_id(message),
                )

    def _confirmation_error(self, exc: Exception, message_id: str | None) -> SnsSubscriptionError:
        why, retryable = _fetch_failure(exc)
        return SnsSubscriptionError(
            f"the subscription confirmation request failed: {why}", message_id=message_id, retryable=retryable
        )

    def confirm_subscription(self, message: Mapping[str, Any], *, confirm_any_topic: bool = False) -> str:
        """Confirm a verified ``SubscriptionConfirmation`` by fetching its ``SubscribeURL``.

        In order: the message must be a SubscriptionConfirmation (an UnsubscribeConfirmation is always
        refused), its topic must be allowlisted (without an allowlist, ``confirm_any_topic=True`` is
        required), the message must verify, and the ``SubscribeURL`` must pass ``check_subscribe_url``.
        Only then is the URL fetched. Returns the ``SubscriptionArn`` SNS answers with, or the URL fetched
        if the answer names none. Raises ``SnsVerificationError`` subclasses.
        """
        self._check_confirmable(message, confirm_any_topic)
        self.verify(message)
        with _only_verification_errors(message):
            url = _check_subscribe_url(message, test_origins=self._test_origins)
            try:
                body = self._get(url)
            except Exception as exc:
                raise self._confirmation_error(exc, _message_id(message)) from exc
            _log.info("confirmed SNS subscription to %s", message.get("TopicArn"))
            return _subscription_arn(body, url)

    async def confirm_subscription_async(
        self, message: Mapping[str, Any], *, confirm_any_topic: bool = False
    ) -> str:
        """The async twin of ``confirm_subscription``."""
        self._check_confirmable(message, confirm_any_topic)
        await self.verify_async(message)
        with _only_verification_errors(message):
            url = _check_subscribe_url(message, test_origins=self._test_origins)
            try:
                body = await self._aget(url)
            except Exception as exc:
                raise self._confirmation_error(exc, _message_id(message)) from exc
            _log.info("confirmed SNS subscription to %s", message.get("TopicArn"))
            return _subscription_arn(body, url)


# Imported on first use by sesflow.sources, which exports it: that package is its public home.
publish("sesflow.sources", ["SnsVerifier"], globals())
