"""A table of hostile SNS envelopes: each must be refused with one SnsVerificationError subclass, and why.

Most are genuinely signed (with the suite's test key, or by AWS for the real vectors) so that the check under
test, not the signature, is what refuses them: a field shift keeps AWS's own signature valid, a line break or
a year-9999 Timestamp is signed by our key exactly as SNS would sign it. A lone surrogate cannot be signed by
anyone (it has no UTF-8 form), so those variants carry the signature of the unaltered message.

The same table runs through the verifier (sync, async, pure), the Lambda source and both webhooks.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import attrs
from cryptography.hazmat.primitives.asymmetric import rsa

from sesflow.errors import SnsVerificationError
from sesflow.sources.sns_verify import SnsCertificateUrlError

from ._sns_signing import CERT_URL, T0, TOPIC, confirmation, notification, sign
from .conftest import DATA, load

REAL_PEM = (DATA / "sns" / "sns-us-east-1-2021.pem").read_bytes()
REAL_URL = (
    "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem"
)
GENUINE_URLS = frozenset({CERT_URL, REAL_URL})

LINE_BREAK = "line break or control character"
SURROGATE = "lone surrogate"
HUGE_INT = 10**5000  # beyond Python's limit for turning an int into text (4300 digits)
HUGE_INT_JSON = "1" + "0" * 5000
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def real_complaint() -> dict[str, Any]:
    """The real AWS-signed complaint notification (it has a Subject)."""
    return load("sns/signed-v1-complaint-event.json")


@attrs.frozen
class Hostile:
    """One hostile envelope: how to build it from the test key, and the error class and reason it must get."""

    name: str
    build: Callable[[rsa.RSAPrivateKey], Any]
    error: type[SnsVerificationError]
    reason: str  # a regular expression the error's reason must match
    real: bool = False  # built from a real AWS vector, judged at that vector's own time

    def when(self) -> datetime:
        return datetime.fromisoformat(real_complaint()["Timestamp"]) if self.real else T0


def _signed(key: rsa.RSAPrivateKey, version: str = "2", **fields: Any) -> dict[str, Any]:
    """A notification with ``fields`` changed, signed with ``key`` exactly as SNS would sign it."""
    return sign({**notification(), **fields}, key, version)


def _signed_confirmation(key: rsa.RSAPrivateKey, **fields: Any) -> dict[str, Any]:
    return sign({**confirmation(), **fields}, key, "2")


def _changed(key: rsa.RSAPrivateKey, **fields: Any) -> dict[str, Any]:
    """A genuinely signed notification with ``fields`` changed afterwards (its signature no longer fits)."""
    return {**_signed(key), **fields}


def _shifted(message: dict[str, Any]) -> dict[str, Any]:
    """The field shift: Subject moved into MessageId behind a line break. The signed bytes do not change."""
    shifted = dict(message)
    subject = shifted.pop("Subject")
    shifted["MessageId"] = f"{message['MessageId']}\nSubject\n{subject}"
    return shifted


def _subject_swallows_timestamp(key: rsa.RSAPrivateKey) -> dict[str, Any]:
    message = _signed(key)
    stamp = message.pop("Timestamp")
    message["Subject"] = f"{message['Subject']}\nTimestamp\n{stamp}"
    return message


def _nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


def _wrong_length_signature(key: rsa.RSAPrivateKey) -> dict[str, Any]:
    return _changed(key, Signature=base64.b64encode(b"abc").decode())


def _version_mislabelled(key: rsa.RSAPrivateKey) -> dict[str, Any]:
    return {**_signed(key, "2"), "SignatureVersion": "1"}  # a SHA256 signature presented as SHA1


def _both_spellings(key: rsa.RSAPrivateKey) -> dict[str, Any]:
    hostile = "https://evil.example/SimpleNotificationService-0123.pem"
    return {**_signed(key), "SigningCertUrl": hostile}


HOSTILE: list[Hostile] = [
    # --- field shift: only Message may hold a line break -------------------------------------------------
    Hostile(
        "field shift, real AWS signature",
        lambda k: _shifted(real_complaint()),
        SnsVerificationError,
        LINE_BREAK,
        real=True,
    ),
    Hostile(
        "field shift, own SHA256 signature", lambda k: _shifted(_signed(k)), SnsVerificationError, LINE_BREAK
    ),
    Hostile(
        "field shift, own SHA1 signature",
        lambda k: _shifted(_signed(k, "1")),
        SnsVerificationError,
        LINE_BREAK,
    ),
    Hostile("Subject swallows Timestamp", _subject_swallows_timestamp, SnsVerificationError, LINE_BREAK),
    Hostile(
        "signed MessageId with a line break",
        lambda k: _signed(k, MessageId="m-1\nm-2"),
        SnsVerificationError,
        f"MessageId .*{LINE_BREAK}",
    ),
    Hostile(
        "signed Subject with a carriage return",
        lambda k: _signed(k, Subject="Hi\rthere"),
        SnsVerificationError,
        f"Subject .*{LINE_BREAK}",
    ),
    Hostile(
        "signed Subject with NUL", lambda k: _signed(k, Subject="Hi\x00"), SnsVerificationError, LINE_BREAK
    ),
    Hostile(
        "signed Subject with U+2028",
        lambda k: _signed(k, Subject="Hi\u2028there"),
        SnsVerificationError,
        LINE_BREAK,
    ),
    Hostile(
        "signed Subject with NEL",
        lambda k: _signed(k, Subject="Hi\x85there"),
        SnsVerificationError,
        LINE_BREAK,
    ),
    Hostile(
        "signed Subject with a tab",
        lambda k: _signed(k, Subject="Hi\tthere"),
        SnsVerificationError,
        LINE_BREAK,
    ),
    Hostile(
        "signed Subject with DEL", lambda k: _signed(k, Subject="Hi\x7f"), SnsVerificationError, LINE_BREAK
    ),
    Hostile(
        "signed MessageId with a vertical tab",
        lambda k: _signed(k, MessageId="m\x0b1"),
        SnsVerificationError,
        LINE_BREAK,
    ),
    Hostile(
        "signed TopicArn ending in a line break",
        lambda k: _signed(k, TopicArn=TOPIC + "\n"),
        SnsVerificationError,
        f"TopicArn .*{LINE_BREAK}",
    ),
    Hostile(
        "signed Timestamp ending in a line break",
        lambda k: _signed(k, Timestamp=notification()["Timestamp"] + "\n"),
        SnsVerificationError,
        f"Timestamp .*{LINE_BREAK}",
    ),
    Hostile(
        "signed Token with a line break",
        lambda k: _signed_confirmation(k, Token="abc\ndef"),
        SnsVerificationError,
        f"Token .*{LINE_BREAK}",
    ),
    Hostile(
        "signed SubscribeURL with a line break",
        lambda k: _signed_confirmation(k, SubscribeURL=confirmation()["SubscribeURL"] + "\nx"),
        SnsVerificationError,
        f"SubscribeURL .*{LINE_BREAK}",
    ),
    # --- lone surrogates: valid JSON, not Unicode -----------------------------------------------------------
    Hostile(
        "lone high surrogate in Message",
        lambda k: _changed(k, Message='{"a":"\ud800"}'),
        SnsVerificationError,
        f"Message .*{SURROGATE}",
    ),
    Hostile(
        "lone low surrogate in Message",
        lambda k: _changed(k, Message="\udfff"),
        SnsVerificationError,
        SURROGATE,
    ),
    Hostile(
        "lone surrogate in Subject",
        lambda k: _changed(k, Subject="Hi \ud800"),
        SnsVerificationError,
        f"Subject .*{SURROGATE}",
    ),
    Hostile(
        "lone surrogate in MessageId",
        lambda k: _changed(k, MessageId="\ud83d"),
        SnsVerificationError,
        SURROGATE,
    ),
    Hostile(
        "lone surrogate in Token",
        lambda k: {**_signed_confirmation(k), "Token": "\udc00"},
        SnsVerificationError,
        f"Token .*{SURROGATE}",
    ),
    Hostile(
        "lone surrogate in a real message",
        lambda k: {**real_complaint(), "Message": real_complaint()["Message"] + "\ud800"},
        SnsVerificationError,
        SURROGATE,
        real=True,
    ),
    # --- extreme and malformed timestamps -------------------------------------------------------------------
    Hostile(
        "signed Timestamp in year 1, +01:00",
        lambda k: _signed(k, Timestamp="0001-01-01T00:00:00+01:00"),
        SnsVerificationError,
        "older than",
    ),
    Hostile(
        "signed Timestamp in year 9999, -01:00",
        lambda k: _signed(k, Timestamp="9999-12-31T23:59:59-01:00"),
        SnsVerificationError,
        "in the future",
    ),
    Hostile(
        "signed Timestamp at the last microsecond",
        lambda k: _signed(k, Timestamp="9999-12-31T23:59:59.999999Z"),
        SnsVerificationError,
        "in the future",
    ),
    Hostile(
        "signed Timestamp at the first moment",
        lambda k: _signed(k, Timestamp="0001-01-01T00:00:00Z"),
        SnsVerificationError,
        "older than",
    ),
    Hostile(
        "signed Timestamp with a space",
        lambda k: _signed(k, Timestamp="2024-06-01 12:00:00.123Z"),
        SnsVerificationError,
        "not an ISO 8601 time",
    ),
    Hostile(
        "signed Timestamp with seven decimals",
        lambda k: _signed(k, Timestamp="2024-06-01T12:00:00.1234567Z"),
        SnsVerificationError,
        "not an ISO 8601 time",
    ),
    Hostile(
        "signed naive Timestamp",
        lambda k: _signed(k, Timestamp="2024-06-01T12:00:00"),
        SnsVerificationError,
        "not an ISO 8601 time",
    ),
    Hostile(
        "Timestamp as a number",
        lambda k: _changed(k, Timestamp=1717243200),
        SnsVerificationError,
        "Timestamp .* is an int",
    ),
    # --- Type ----------------------------------------------------------------------------------------------
    Hostile("Type is an empty list", lambda k: _changed(k, Type=[]), SnsVerificationError, "Type a list"),
    Hostile("Type is an empty object", lambda k: _changed(k, Type={}), SnsVerificationError, "Type a dict"),
    Hostile("Type is a number", lambda k: _changed(k, Type=1), SnsVerificationError, "Type an int"),
    Hostile(
        "Type beyond the int digit limit",
        lambda k: _changed(k, Type=HUGE_INT),
        SnsVerificationError,
        "Type an int",
    ),
    Hostile(
        "Type nested 10,000 deep",
        lambda k: _changed(k, Type=_nested(10_000)),
        SnsVerificationError,
        "Type a list",
    ),
    Hostile(
        "Type in lower case",
        lambda k: _changed(k, Type="notification"),
        SnsVerificationError,
        "is not one of",
    ),
    Hostile(
        "Type with a line break",
        lambda k: _changed(k, Type="Notification\n"),
        SnsVerificationError,
        "is not one of",
    ),
    Hostile(
        "Type missing",
        lambda k: {x: v for x, v in _signed(k).items() if x != "Type"},
        SnsVerificationError,
        "Type None",
    ),
    Hostile(
        "only keys that are not strings",
        lambda k: {1: "Notification", None: "x", 2.5: []},
        SnsVerificationError,
        "Type None",
    ),
    Hostile("a list instead of an object", lambda k: [_signed(k)], SnsVerificationError, "must be a mapping"),
    # --- signed fields of the wrong type, or altered -------------------------------------------------------
    Hostile(
        "MessageId as a number",
        lambda k: _changed(k, MessageId=7),
        SnsVerificationError,
        "MessageId .* is an int",
    ),
    Hostile(
        "MessageId as an object",
        lambda k: _changed(k, MessageId={"id": "x"}),
        SnsVerificationError,
        "MessageId .* is a dict",
    ),
    Hostile(
        "Message as a list",
        lambda k: _changed(k, Message=["x"]),
        SnsVerificationError,
        "Message .* is a list",
    ),
    Hostile(
        "Subject as a number", lambda k: _changed(k, Subject=0), SnsVerificationError, "Subject .* is an int"
    ),
    Hostile(
        "TopicArn of a megabyte",
        lambda k: _changed(k, TopicArn="arn:" + "x" * 1_000_000),
        SnsVerificationError,
        "signature .* does not match",
    ),
    Hostile(
        "Message of a megabyte",
        lambda k: _changed(k, Message="x" * 1_000_000),
        SnsVerificationError,
        "signature .* does not match",
    ),
    # --- Signature and SignatureVersion ---------------------------------------------------------------------
    Hostile(
        "Signature as a number",
        lambda k: _changed(k, Signature=12),
        SnsVerificationError,
        "Signature is missing, too long or not base64",
    ),
    Hostile(
        "Signature as a list",
        lambda k: _changed(k, Signature=["QUJD"]),
        SnsVerificationError,
        "Signature is missing, too long or not base64",
    ),
    Hostile(
        "Signature of 100,000 characters",
        lambda k: _changed(k, Signature="QUJD" * 25_000),
        SnsVerificationError,
        "too long",
    ),
    Hostile(
        "Signature with non-ASCII characters",
        lambda k: _changed(k, Signature="QUJDé=="),
        SnsVerificationError,
        "not base64",
    ),
    Hostile(
        "Signature of the wrong length",
        _wrong_length_signature,
        SnsVerificationError,
        "signature .* does not match",
    ),
    Hostile(
        "SignatureVersion as a number",
        lambda k: _changed(k, SignatureVersion=2),
        SnsVerificationError,
        "SignatureVersion an int",
    ),
    Hostile(
        "SignatureVersion as a float",
        lambda k: _changed(k, SignatureVersion=2.0),
        SnsVerificationError,
        "SignatureVersion a float",
    ),
    Hostile(
        "SignatureVersion as a list",
        lambda k: _changed(k, SignatureVersion=["2"]),
        SnsVerificationError,
        "SignatureVersion a list",
    ),
    Hostile(
        "SignatureVersion true",
        lambda k: _changed(k, SignatureVersion=True),
        SnsVerificationError,
        "SignatureVersion True",
    ),
    Hostile(
        "SHA256 signature labelled version 1",
        _version_mislabelled,
        SnsVerificationError,
        "SHA1withRSA.* does not match",
    ),
    # --- certificate URLs: refused before any request -------------------------------------------------------
    Hostile(
        "certificate on S3",
        lambda k: _changed(
            k, SigningCertURL="https://s3.amazonaws.com/bucket/SimpleNotificationService-0123.pem"
        ),
        SnsCertificateUrlError,
        "is not sns",
    ),
    Hostile(
        "certificate over http",
        lambda k: _changed(k, SigningCertURL=CERT_URL.replace("https", "http")),
        SnsCertificateUrlError,
        "scheme",
    ),
    Hostile(
        "certificate URL with userinfo",
        lambda k: _changed(k, SigningCertURL=CERT_URL.replace("https://", "https://evil@")),
        SnsCertificateUrlError,
        "userinfo",
    ),
    Hostile(
        "certificate on a lookalike host",
        lambda k: _changed(
            k, SigningCertURL=CERT_URL.replace(".amazonaws.com/", ".amazonaws.com.evil.example/")
        ),
        SnsCertificateUrlError,
        "is not sns",
    ),
    Hostile(
        "certificate URL with a line break",
        lambda k: _changed(k, SigningCertURL=CERT_URL + "\n"),
        SnsCertificateUrlError,
        "control",
    ),
    Hostile(
        "certificate URL as a list",
        lambda k: _changed(k, SigningCertURL=[CERT_URL]),
        SnsCertificateUrlError,
        "missing or empty",
    ),
    Hostile(
        "both spellings of the certificate URL",
        _both_spellings,
        SnsVerificationError,
        "both SigningCertURL and SigningCertUrl",
    ),
]


# --- delivering the table over HTTP -----------------------------------------------------------------------


class GenuineFetcher:
    """Serves the two genuine certificates (the test key's at CERT_URL, AWS's at REAL_URL) and records every
    URL asked for; any other URL raises, as an unreachable host would."""

    def __init__(self, pem: bytes) -> None:
        self.table = {CERT_URL: pem, REAL_URL: REAL_PEM}
        self.calls: list[str] = []

    def __call__(self, url: str) -> bytes:
        self.calls.append(url)
        return self.table[url]

    async def fetch_async(self, url: str) -> bytes:
        return self(url)


def json_body(value: Any) -> str:
    """``value`` as JSON text, also where ``json.dumps`` cannot write it (lists nested 10,000 deep, an int
    beyond the digit limit), so that every envelope of the table can be POSTed as it is."""
    if value is HUGE_INT:
        return HUGE_INT_JSON
    if isinstance(value, Mapping):
        items = (
            json.dumps(k if isinstance(k, str) else json.dumps(k)) + ":" + json_body(v)
            for k, v in value.items()
        )
        return "{" + ",".join(items) + "}"
    depth, inner = 0, value
    while isinstance(inner, list) and len(inner) == 1 and isinstance(inner[0], list):
        depth, inner = depth + 1, inner[0]
    if depth and inner == []:
        return "[" * (depth + 1) + "]" * (depth + 1)
    if isinstance(value, list):
        return "[" + ",".join(json_body(v) for v in value) + "]"
    return json.dumps(value)


_ENVELOPE_HEADERS = (
    ("x-amz-sns-message-type", "Type"),
    ("x-amz-sns-message-id", "MessageId"),
    ("x-amz-sns-topic-arn", "TopicArn"),
)


def headers_for(envelope: Any, *, http: bool) -> dict[str, str]:
    """The x-amz-sns-* headers SNS would send with ``envelope``. Over real HTTP a value that no HTTP header
    can carry (not Latin-1, a control character, very long) is replaced, so the request reaches the server
    and is refused there for headers that disagree with the body."""
    fields = envelope if isinstance(envelope, Mapping) else {}
    headers = {"content-type": "text/plain; charset=UTF-8"}
    for header, key in _ENVELOPE_HEADERS:
        value = fields.get(key)
        text = value if isinstance(value, str) else "not-a-string"
        if http and not _carriable(text):
            text = "not-carriable"
        headers[header] = text
    return headers


def _carriable(text: str) -> bool:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return len(text) <= 4096 and all(" " <= c <= "~" or c >= "\xa0" for c in text)


def reaches_verification(envelope: Any, *, http: bool) -> bool | None:
    """Whether a webhook gets as far as verifying ``envelope`` (answering 403), or refuses it before as not an
    SNS delivery (400): it must decode to an object with a known Type and MessageId, TopicArn and Message
    strings, and its headers must be able to repeat those fields. None when that depends on the JSON decoder
    installed: orjson refuses a lone surrogate as not JSON, the standard library decodes it."""
    try:
        decoded = json.loads(json_body(envelope))
    except (ValueError, RecursionError):
        return False
    if not isinstance(decoded, dict) or decoded.get("Type") not in (
        "Notification",
        "SubscriptionConfirmation",
        "UnsubscribeConfirmation",
    ):
        return False
    if not all(isinstance(decoded.get(key), str) for key in ("MessageId", "TopicArn", "Message")):
        return False
    if http and not all(_carriable(decoded[key]) for _, key in _ENVELOPE_HEADERS):
        return False
    if any(isinstance(value, str) and _LONE_SURROGATE.search(value) for value in decoded.values()):
        return None
    return True


def expected_statuses(envelope: Any, *, http: bool) -> set[int]:
    """The answers a webhook may give ``envelope``: 403 once it reaches the verifier, 400 before."""
    reaches = reaches_verification(envelope, http=http)
    return {403} if reaches else {400} if reaches is False else {400, 403}
