"""SNS signature verification: real AWS-signed vectors, our own signed messages, a real local HTTPS server."""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import json
import re
import ssl
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from sesflow.errors import SnsReplayError, SnsVerificationError, SourceError
from sesflow.sources import sns_lambda_items, sns_verify
from sesflow.sources.sns_verify import (
    ConfirmSubscriptionParams,
    MemoryReplayGuard,
    SnsCertificateFetchError,
    SnsCertificateUrlError,
    SnsReplayGuardError,
    SnsSubscriptionError,
    SnsUnexpectedError,
    SnsVerifier,
    canonical_string,
    check_signing_cert_url,
    check_subscribe_url,
    subscription_confirmation_params,
    verify_with_certificate,
)

from ._sns_hostile import GENUINE_URLS, HOSTILE, GenuineFetcher, Hostile
from ._sns_signing import (
    CERT_URL,
    OTHER_TOPIC,
    T0,
    TOKEN,
    TOPIC,
    Clock,
    LocalHttpsServer,
    Tls,
    confirmation,
    https_server,
    make_tls,
    new_key,
    notification,
    self_signed_pem,
    sign,
    sns_time,
    string_to_sign,
    subscribe_url,
)
from .conftest import DATA, load

REAL_PEM = (DATA / "sns" / "sns-us-east-1-2021.pem").read_bytes()
REAL_URL = (
    "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem"
)
VECTORS = ["signed-v1-complaint-event.json", "signed-v1-bounce-notification.json"]
NOTIFICATION_KEYS = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]


def vector(name: str) -> dict[str, Any]:
    return load(f"sns/{name}")


def at(message: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(message["Timestamp"])


class CountingFetcher:
    """Serves certificates from memory by exact URL and counts every call (an unknown URL raises)."""

    def __init__(self, table: dict[str, bytes]) -> None:
        self.table = table
        self.calls: list[str] = []

    def __call__(self, url: str) -> bytes:
        self.calls.append(url)
        return self.table[url]

    async def fetch_async(self, url: str) -> bytes:
        await asyncio.sleep(0)  # let concurrent verifications reach the cache before this one finishes
        return self(url)


async def call(mode: str, sync: Callable[..., Any], async_: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    """Call the sync twin or await the async one, so one test body covers both."""
    if mode == "sync":
        return sync(*args, **kw)
    return await async_(*args, **kw)


def _one_byte_changed(field: str, value: str) -> str:
    """``value`` with exactly one character changed (still a valid Timestamp when it is one)."""
    index = len(value) - 2 if field == "Timestamp" else len(value) // 2
    while not value[index].isalnum():
        index += 1
    char = value[index]
    new = str((int(char) + 1) % 10) if char.isdigit() else char.swapcase()
    return value[:index] + new + value[index + 1 :]


# --- fixtures ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return new_key()


@pytest.fixture(scope="module")
def pem(key: rsa.RSAPrivateKey) -> bytes:
    return self_signed_pem(key)


@pytest.fixture(scope="module")
def tls() -> Tls:
    return make_tls()


@pytest.fixture
def server(tls: Tls) -> Iterator[LocalHttpsServer]:
    with https_server(tls) as running:
        yield running


@pytest.fixture
def clock() -> Clock:
    return Clock()


def local_verifier(server: LocalHttpsServer, tls: Tls, clock: Clock, **kwargs: Any) -> SnsVerifier:
    """A verifier whose built-in fetchers reach the local server (TLS verified against the test CA)."""
    return SnsVerifier(
        clock=clock, ssl_context=tls.client_context(), test_only_allowed_origins=[server.origin], **kwargs
    )


def local_cert_path(n: int = 1) -> str:
    return f"/SimpleNotificationService-{n:032x}.pem"


# --- the real AWS-signed vectors ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", VECTORS)
def test_real_vector_verifies_against_real_certificate(name: str) -> None:
    message = vector(name)
    assert message["SigningCertURL"] == REAL_URL
    verify_with_certificate(message, REAL_PEM, at(message))
    fetcher = CountingFetcher({REAL_URL: REAL_PEM})
    SnsVerifier(clock=lambda: at(message), fetcher=fetcher).verify(message)
    assert fetcher.calls == [REAL_URL]


@pytest.mark.parametrize("name", VECTORS)
async def test_real_vector_verifies_async(name: str) -> None:
    message = vector(name)
    fetcher = CountingFetcher({REAL_URL: REAL_PEM})
    await SnsVerifier(clock=lambda: at(message), async_fetcher=fetcher.fetch_async).verify_async(message)
    assert fetcher.calls == [REAL_URL]


def test_bounce_vector_has_no_subject_and_its_canonical_string_skips_it() -> None:
    message = vector("signed-v1-bounce-notification.json")
    assert "Subject" not in message
    signed = canonical_string(message)
    assert b"Subject\n" not in signed
    assert signed.startswith(b"Message\n{")
    assert signed.endswith(
        b"\nMessageId\n71a6b82e-0f1a-58db-b902-e2ef60f87541\nTimestamp\n2022-04-01T21:24:50.200Z\n"
        b"TopicArn\narn:aws:sns:us-east-1:364852123998:test-email\nType\nNotification\n"
    )
    # Lambda writes a missing subject as null: the same bytes, and it still verifies.
    assert canonical_string({**message, "Subject": None}) == signed
    verify_with_certificate({**message, "Subject": None}, REAL_PEM, at(message))
    # An empty Subject is a present Subject: it is signed, so adding one breaks the signature.
    with pytest.raises(SnsVerificationError, match="signature"):
        verify_with_certificate({**message, "Subject": ""}, REAL_PEM, at(message))


def test_complaint_vector_signs_its_subject() -> None:
    message = vector("signed-v1-complaint-event.json")
    assert b"\nSubject\nAmazon SES Email Event Notification\nTimestamp\n" in canonical_string(message)
    without = {k: v for k, v in message.items() if k != "Subject"}
    with pytest.raises(SnsVerificationError, match="signature"):
        verify_with_certificate(without, REAL_PEM, at(message))


@pytest.mark.parametrize(
    ("name", "field"),
    [(name, field) for name in VECTORS for field in NOTIFICATION_KEYS if field in vector(name)],
)
def test_real_vector_fails_when_one_signed_byte_changes(name: str, field: str) -> None:
    message = vector(name)
    changed = {**message, field: _one_byte_changed(field, message[field])}
    assert changed[field] != message[field]
    assert len(changed[field]) == len(message[field])
    verifier = SnsVerifier(clock=lambda: at(message), fetcher=CountingFetcher({REAL_URL: REAL_PEM}))
    with pytest.raises(SnsVerificationError) as caught:
        verifier.verify(changed)
    # A changed Type is no longer a known type; every other change reaches and fails the signature check.
    assert ("Type" if field == "Type" else "signature") in caught.value.reason
    with pytest.raises(SnsVerificationError):
        verify_with_certificate(changed, REAL_PEM, at(message))


@pytest.mark.parametrize("name", VECTORS)
def test_real_vector_fails_when_one_signature_byte_changes(name: str) -> None:
    message = vector(name)
    raw = bytearray(base64.b64decode(message["Signature"]))
    raw[len(raw) // 2] ^= 0x01
    changed = {**message, "Signature": base64.b64encode(bytes(raw)).decode()}
    with pytest.raises(SnsVerificationError, match=r"signature .* does not match") as caught:
        verify_with_certificate(changed, REAL_PEM, at(message))
    assert caught.value.message_id == message["MessageId"]


@pytest.mark.parametrize("name", VECTORS)
def test_real_vector_fails_under_the_other_hash(name: str) -> None:
    message = {**vector(name), "SignatureVersion": "2"}
    with pytest.raises(SnsVerificationError, match="SHA256withRSA"):
        verify_with_certificate(message, REAL_PEM, at(message))


@pytest.mark.parametrize("version", ["3", "0", "", 1, None, "v1", "1 "])
def test_unknown_signature_versions_are_rejected(version: object) -> None:
    message = {**vector(VECTORS[0]), "SignatureVersion": version}
    with pytest.raises(SnsVerificationError, match="SignatureVersion"):
        verify_with_certificate(message, REAL_PEM, at(message))


@pytest.mark.parametrize("signature", ["", "not base64!", "QUJD=extra", None])
def test_signature_that_is_not_base64_is_rejected(signature: object) -> None:
    message = {**vector(VECTORS[0]), "Signature": signature}
    with pytest.raises(SnsVerificationError, match="not base64"):
        verify_with_certificate(message, REAL_PEM, at(message))


def test_real_vector_is_stale_now_and_its_certificate_has_expired() -> None:
    message = vector(VECTORS[0])
    with pytest.raises(SnsVerificationError, match="older than"):
        verify_with_certificate(message, REAL_PEM, at(message) + timedelta(hours=1, seconds=1))
    # A window wide enough to reach today still fails: the certificate expired in 2022.
    with pytest.raises(SnsVerificationError, match="not valid at"):
        verify_with_certificate(
            {**message, "Timestamp": "2022-08-18T00:00:00.000Z"},
            REAL_PEM,
            datetime.fromisoformat("2022-08-18T00:00:00Z"),
        )


# --- canonical strings -------------------------------------------------------------------------------------


def test_canonical_string_of_a_notification() -> None:
    message = {
        "Type": "Notification",
        "MessageId": "m-1",
        "TopicArn": TOPIC,
        "Subject": "Hi",
        "Message": "line one\nline two",
        "Timestamp": "2024-06-01T12:00:00.123Z",
        "SignatureVersion": "2",
        "Signature": "ignored",
        "SigningCertURL": CERT_URL,
        "UnsubscribeURL": "https://example.invalid/not-signed",
        "MessageAttributes": {"ignored": "too"},
    }
    assert canonical_string(message) == (
        b"Message\nline one\nline two\nMessageId\nm-1\nSubject\nHi\nTimestamp\n2024-06-01T12:00:00.123Z\n"
        b"TopicArn\narn:aws:sns:eu-west-1:123456789012:ses-events\nType\nNotification\n"
    )


@pytest.mark.parametrize("kind", ["SubscriptionConfirmation", "UnsubscribeConfirmation"])
def test_canonical_string_of_confirmations(kind: str) -> None:
    message = confirmation(kind, url="https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&X=1")
    message["Subject"] = "never signed for confirmations"
    expected = (
        f"Message\n{message['Message']}\nMessageId\n{message['MessageId']}\n"
        f"SubscribeURL\nhttps://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&X=1\n"
        f"Timestamp\n{message['Timestamp']}\nToken\n{TOKEN}\nTopicArn\n{TOPIC}\nType\n{kind}\n"
    ).encode()
    assert canonical_string(message) == expected
    # Lambda's spelling signs the same bytes under the canonical key name.
    lambda_style = {k: v for k, v in message.items() if k != "SubscribeURL"}
    lambda_style["SubscribeUrl"] = message["SubscribeURL"]
    assert canonical_string(lambda_style) == expected


def test_canonical_string_is_utf8() -> None:
    message = notification(subject="Réponse ✓")
    assert b"Subject\nR\xc3\xa9ponse \xe2\x9c\x93\n" in canonical_string(message)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"Type": "Nope"}, "Type 'Nope' is not one of"),
        ({"Type": None}, "Type None"),
        ({"MessageId": None}, "MessageId of the SNS Notification is missing"),
        ({"Message": {"eventType": "Delivery"}}, "Message of the SNS Notification is a dict"),
        ({"Timestamp": 1717243200}, "Timestamp of the SNS Notification is an int"),
        ({"TopicArn": None}, "TopicArn .* is missing"),
    ],
)
def test_canonical_string_requires_signed_fields_as_text(change: dict[str, Any], match: str) -> None:
    with pytest.raises(SnsVerificationError, match=match):
        canonical_string({**notification(), **change})


def test_both_spellings_with_different_values_are_rejected(key: rsa.RSAPrivateKey) -> None:
    message = confirmation()
    message["SubscribeUrl"] = message["SubscribeURL"] + "&x=1"
    with pytest.raises(SnsVerificationError, match="both SubscribeURL and SubscribeUrl"):
        canonical_string(message)
    message = {**sign(notification(), key, "2"), "SigningCertUrl": CERT_URL.replace("0123", "4567")}
    with pytest.raises(SnsVerificationError, match="both SigningCertURL and SigningCertUrl"):
        SnsVerifier(clock=Clock(), fetcher=CountingFetcher({})).verify(message)
    # Both spellings agreeing is harmless.
    assert canonical_string({**confirmation(), "SubscribeUrl": confirmation()["SubscribeURL"]})


def test_non_mapping_is_rejected() -> None:
    with pytest.raises(SnsVerificationError, match="must be a mapping"):
        canonical_string(json.dumps(notification()))  # type: ignore[arg-type]


# --- messages signed with our own key ----------------------------------------------------------------------


@pytest.mark.parametrize("version", ["1", "2"])
@pytest.mark.parametrize(
    "build",
    [
        lambda: notification(),
        lambda: notification(subject=None),
        lambda: confirmation("SubscriptionConfirmation"),
        lambda: confirmation("UnsubscribeConfirmation"),
    ],
    ids=["notification", "notification-no-subject", "subscription", "unsubscribe"],
)
def test_own_signed_messages_verify(
    key: rsa.RSAPrivateKey, pem: bytes, version: str, build: Callable[[], dict[str, Any]]
) -> None:
    message = sign(build(), key, version)
    fetcher = CountingFetcher({CERT_URL: pem})
    SnsVerifier(clock=Clock(), fetcher=fetcher).verify(message)
    verify_with_certificate(message, pem, T0)
    # The hash is the version's: the same signature under the other version fails.
    other = {**message, "SignatureVersion": "2" if version == "1" else "1"}
    with pytest.raises(SnsVerificationError, match="does not match"):
        verify_with_certificate(other, pem, T0)


@pytest.mark.parametrize("field", ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn"])
def test_own_signed_confirmation_fails_when_a_signed_field_changes(
    key: rsa.RSAPrivateKey, pem: bytes, field: str
) -> None:
    message = sign(confirmation(), key, "2")
    changed = {**message, field: _one_byte_changed(field, message[field])}
    with pytest.raises(SnsVerificationError, match="does not match"):
        verify_with_certificate(changed, pem, T0)


def test_lambda_spelled_message_verifies(key: rsa.RSAPrivateKey, pem: bytes) -> None:
    message = sign(confirmation(), key, "2")
    lambda_style = {k.replace("URL", "Url"): v for k, v in message.items()}
    assert "SigningCertUrl" in lambda_style
    assert "SubscribeUrl" in lambda_style
    fetcher = CountingFetcher({CERT_URL: pem})
    SnsVerifier(clock=Clock(), fetcher=fetcher).verify(lambda_style)
    assert fetcher.calls == [CERT_URL]


def test_wrong_key_fails(pem: bytes) -> None:
    message = sign(notification(), new_key(), "2")
    with pytest.raises(SnsVerificationError, match="does not match"):
        verify_with_certificate(message, pem, T0)


@pytest.mark.parametrize(
    ("not_before", "not_after"),
    [
        (T0 - timedelta(days=30), T0 - timedelta(seconds=1)),  # expired before the message was sent
        (T0 + timedelta(seconds=1), T0 + timedelta(days=30)),  # not yet valid when the message was sent
    ],
    ids=["expired", "not-yet-valid"],
)
def test_certificate_must_be_valid_at_message_time(
    key: rsa.RSAPrivateKey, not_before: datetime, not_after: datetime
) -> None:
    cert = self_signed_pem(key, not_before=not_before, not_after=not_after)
    message = sign(notification(), key, "2")
    with pytest.raises(SnsVerificationError, match="not valid at the message's Timestamp"):
        verify_with_certificate(message, cert, T0)
    with pytest.raises(SnsVerificationError, match="not valid at the message's Timestamp"):
        SnsVerifier(clock=Clock(), fetcher=CountingFetcher({CERT_URL: cert})).verify(message)


def test_certificate_valid_exactly_at_its_bounds(key: rsa.RSAPrivateKey) -> None:
    message = sign(notification(when=T0.replace(microsecond=0)), key, "2")
    at_start = self_signed_pem(key, not_before=T0.replace(microsecond=0), not_after=T0 + timedelta(days=1))
    verify_with_certificate(message, at_start, T0)


def test_timestamp_window(key: rsa.RSAPrivateKey, pem: bytes) -> None:
    message = sign(notification(), key, "2")
    ts = datetime.fromisoformat(message["Timestamp"])
    verify_with_certificate(message, pem, ts + timedelta(hours=1))  # exactly max_age old: accepted
    with pytest.raises(SnsVerificationError, match="older than"):
        verify_with_certificate(message, pem, ts + timedelta(hours=1, milliseconds=1))
    verify_with_certificate(message, pem, ts - timedelta(minutes=5))  # within the clock skew
    with pytest.raises(SnsVerificationError, match="in the future"):
        verify_with_certificate(message, pem, ts - timedelta(minutes=5, milliseconds=1))
    # Both limits are configurable.
    verify_with_certificate(message, pem, ts + timedelta(hours=5), max_age=timedelta(hours=6))
    with pytest.raises(SnsVerificationError, match="in the future"):
        verify_with_certificate(message, pem, ts - timedelta(seconds=1), clock_skew=timedelta(0))


def test_stale_and_future_messages_are_rejected_before_any_fetch(key: rsa.RSAPrivateKey, pem: bytes) -> None:
    fetcher = CountingFetcher({CERT_URL: pem})
    clock = Clock()
    verifier = SnsVerifier(clock=clock, fetcher=fetcher)
    stale = sign(notification(when=T0 - timedelta(hours=2)), key, "2")
    future = sign(notification(when=T0 + timedelta(hours=2)), key, "2")
    for message, match in [(stale, "older than"), (future, "in the future")]:
        with pytest.raises(SnsVerificationError, match=match):
            verifier.verify(message)
    assert fetcher.calls == []
    # The injected clock is what decides: move it and the stale message is fresh again.
    clock.now = T0 - timedelta(hours=2)
    verifier.verify(stale)


@pytest.mark.parametrize("stamp", ["yesterday", "2024-06-01T12:00:00", "", "2024-13-01T00:00:00Z"])
def test_unparseable_or_naive_timestamps_are_rejected(key: rsa.RSAPrivateKey, pem: bytes, stamp: str) -> None:
    message = sign({**notification(), "Timestamp": stamp}, key, "2")
    with pytest.raises(SnsVerificationError, match="not an ISO 8601 time with a time zone"):
        verify_with_certificate(message, pem, T0)


def test_naive_clock_is_a_programming_error(key: rsa.RSAPrivateKey, pem: bytes) -> None:
    verifier = SnsVerifier(clock=lambda: T0.replace(tzinfo=None), fetcher=CountingFetcher({CERT_URL: pem}))
    with pytest.raises(ValueError, match="aware datetime"):
        verifier.verify(sign(notification(), key, "2"))


def test_topic_allowlist(key: rsa.RSAPrivateKey, pem: bytes) -> None:
    fetcher = CountingFetcher({CERT_URL: pem})
    verifier = SnsVerifier(topic_arns=[TOPIC], clock=Clock(), fetcher=fetcher)
    assert verifier.topic_arns == frozenset({TOPIC})
    foreign = sign(notification(topic=OTHER_TOPIC), key, "2")
    with pytest.raises(SnsVerificationError, match="not in this verifier's topic allowlist") as caught:
        verifier.verify(foreign)
    assert caught.value.message_id == foreign["MessageId"]
    assert fetcher.calls == []  # refused before fetching anything
    verifier.verify(sign(notification(), key, "2"))
    assert fetcher.calls == [CERT_URL]
    # Any topic when no allowlist is given.
    SnsVerifier(clock=Clock(), fetcher=fetcher).verify(foreign)


def test_pure_core_takes_an_allowlist(key: rsa.RSAPrivateKey, pem: bytes) -> None:
    message = sign(notification(topic=OTHER_TOPIC), key, "1")
    verify_with_certificate(message, pem, T0)
    with pytest.raises(SnsVerificationError, match="allowlist"):
        verify_with_certificate(message, pem, T0, topic_arns={TOPIC})


def test_constructor_rejects_mistakes() -> None:
    with pytest.raises(TypeError, match="not one string"):
        SnsVerifier(topic_arns=TOPIC)
    with pytest.raises(ValueError, match="empty"):
        SnsVerifier(topic_arns=[])
    with pytest.raises(ValueError, match="max_age"):
        SnsVerifier(max_age=timedelta(0))
    with pytest.raises(ValueError, match="cache_size"):
        SnsVerifier(cache_size=-1)
    with pytest.raises(ValueError, match="fetch_timeout"):
        SnsVerifier(fetch_timeout=0)


@pytest.mark.parametrize(
    "make_key",
    [lambda: ec.generate_private_key(ec.SECP256R1()), lambda: new_key(1024)],
    ids=["ec-key", "rsa-1024"],
)
def test_certificate_must_hold_a_strong_rsa_key(make_key: Callable[[], Any]) -> None:
    weak = self_signed_pem(make_key())
    message = sign(notification(), new_key(), "2")
    with pytest.raises(SnsCertificateFetchError, match="RSA key of at least 2048 bits") as caught:
        verify_with_certificate(message, weak, T0)
    assert caught.value.retryable is False
    verifier = SnsVerifier(clock=Clock(), fetcher=CountingFetcher({CERT_URL: weak}))
    with pytest.raises(SnsCertificateFetchError):
        verifier.verify(message)
    assert verifier.cached_certificates == 0


def test_garbage_certificate_is_an_error_and_not_cached(key: rsa.RSAPrivateKey, pem: bytes) -> None:
    fetcher = CountingFetcher({CERT_URL: b"<html>not a certificate</html>"})
    verifier = SnsVerifier(clock=Clock(), fetcher=fetcher)
    message = sign(notification(), key, "2")
    with pytest.raises(SnsCertificateFetchError, match=r"not a PEM X\.509 certificate") as caught:
        verifier.verify(message)
    assert caught.value.retryable is False
    fetcher.table[CERT_URL] = pem
    verifier.verify(message)
    assert fetcher.calls == [CERT_URL, CERT_URL]


# --- the certificate URL rule ------------------------------------------------------------------------------

GOOD_URLS = [
    REAL_URL,
    "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-01d088a6f77103d0fe307c0069e40ed6.pem",
    "https://sns.ap-southeast-2.amazonaws.com/SimpleNotificationService-0a1b.pem",
    "https://sns.us-gov-west-1.amazonaws.com/SimpleNotificationService-0123abcd.pem",
    "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-0123abcd.pem",
    "https://sns.il-central-1.amazonaws.com/SimpleNotificationService-0123abcd.pem",
]

_PEM = "/SimpleNotificationService-0123456789abcdef0123456789abcdef.pem"
HOSTILE_URLS = {
    "empty": "",
    "http": "http://sns.us-east-1.amazonaws.com" + _PEM,
    "no-scheme": "//sns.us-east-1.amazonaws.com" + _PEM,
    "ftp": "ftp://sns.us-east-1.amazonaws.com" + _PEM,
    "file": "file:///etc/SimpleNotificationService-0123.pem",
    "other-host": "https://example.com" + _PEM,
    "sns.evil.com": "https://sns.evil.com" + _PEM,
    "suffix-evil": "https://sns.us-east-1.amazonaws.com.evil.com" + _PEM,
    "cn-suffix-evil": "https://sns.cn-north-1.amazonaws.com.cn.evil.com" + _PEM,
    "prefix-evil": "https://evilsns.us-east-1.amazonaws.com" + _PEM,
    "deeper-subdomain": "https://x.sns.us-east-1.amazonaws.com" + _PEM,
    "no-region": "https://sns.amazonaws.com" + _PEM,
    "s3-global": "https://s3.amazonaws.com" + _PEM,
    "s3-path-style": "https://s3.us-east-1.amazonaws.com/sns.us-east-1.amazonaws.com" + _PEM,
    "s3-bucket": "https://bucket.s3.amazonaws.com" + _PEM,
    "s3-bucket-named-like-sns": "https://sns.us-east-1.amazonaws.com.s3.amazonaws.com" + _PEM,
    "s3-website": "https://sns.s3-website-us-east-1.amazonaws.com" + _PEM,
    "other-service": "https://sqs.us-east-1.amazonaws.com" + _PEM,
    "execute-api": "https://abc123.execute-api.us-east-1.amazonaws.com" + _PEM,
    "region-wrong-domain": "https://sns.us-east-1.amazonaws.com.cn" + _PEM,
    "cn-region-dotcom": "https://sns.cn-north-1.amazonaws.com" + _PEM,
    "trailing-dot": "https://sns.us-east-1.amazonaws.com." + _PEM,
    "userinfo": "https://evil@sns.us-east-1.amazonaws.com" + _PEM,
    "userinfo-host-last": "https://sns.us-east-1.amazonaws.com@evil.com" + _PEM,
    "userinfo-password": "https://a:b@sns.us-east-1.amazonaws.com" + _PEM,
    "port-443": "https://sns.us-east-1.amazonaws.com:443" + _PEM,
    "port-other": "https://sns.us-east-1.amazonaws.com:8443" + _PEM,
    "port-empty": "https://sns.us-east-1.amazonaws.com:" + _PEM,
    "query": "https://sns.us-east-1.amazonaws.com" + _PEM + "?x=1",
    "empty-query": "https://sns.us-east-1.amazonaws.com" + _PEM + "?",
    "query-redirect": "https://sns.us-east-1.amazonaws.com/?Action=x&u=https://evil.com/a.pem",
    "fragment": "https://sns.us-east-1.amazonaws.com" + _PEM + "#frag",
    "empty-fragment": "https://sns.us-east-1.amazonaws.com" + _PEM + "#",
    "path-other-file": "https://sns.us-east-1.amazonaws.com/evil.pem",
    "path-prefix-dir": "https://sns.us-east-1.amazonaws.com/x" + _PEM,
    "path-traversal": "https://sns.us-east-1.amazonaws.com/a/.." + _PEM,
    "path-double-slash": "https://sns.us-east-1.amazonaws.com/" + _PEM,
    "path-encoded": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-%30.pem",
    "path-not-hex": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-xyz.pem",
    "path-empty-hex": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-.pem",
    "path-suffix": "https://sns.us-east-1.amazonaws.com" + _PEM + ".txt",
    "path-none": "https://sns.us-east-1.amazonaws.com",
    "upper-scheme": "HTTPS://sns.us-east-1.amazonaws.com" + _PEM,
    "upper-host": "https://SNS.US-EAST-1.AMAZONAWS.COM" + _PEM,
    "upper-path": "https://sns.us-east-1.amazonaws.com/simplenotificationservice-0123.pem",
    "upper-hex": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0123ABCD.pem",
    "idn-cyrillic-s": "https://sn\u0455.us-east-1.amazonaws.com" + _PEM,
    "idn-fullwidth-dot": "https://sns.us-east-1.amazonaws\uff0ecom" + _PEM,
    "idn-punycode": "https://xn--sns-ijb.us-east-1.amazonaws.com" + _PEM,
    "unicode-path": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-\uff10\uff11.pem",
    "backslash-userinfo": "https://sns.us-east-1.amazonaws.com\\@evil.com" + _PEM,
    "backslash-host": "https://evil.com\\.sns.us-east-1.amazonaws.com" + _PEM,
    "backslash-path": "https://sns.us-east-1.amazonaws.com\\SimpleNotificationService-0123.pem",
    "leading-space": " https://sns.us-east-1.amazonaws.com" + _PEM,
    "trailing-newline": "https://sns.us-east-1.amazonaws.com" + _PEM + "\n",
    "embedded-tab": "https://sns.us-east-1.amaz\tonaws.com" + _PEM,
    "nul": "https://sns.us-east-1.amazonaws.com" + _PEM + "\x00.evil.com",
    "ipv4": "https://52.94.236.248" + _PEM,
    "ipv6": "https://[::1]" + _PEM,
    "loopback-without-allowance": "https://127.0.0.1" + _PEM,
    "bad-ipv6": "https://[sns.us-east-1.amazonaws.com" + _PEM,
}


@pytest.mark.parametrize("url", GOOD_URLS)
def test_genuine_certificate_urls_pass(url: str) -> None:
    check_signing_cert_url(url)


@pytest.mark.parametrize("url", list(HOSTILE_URLS.values()), ids=list(HOSTILE_URLS))
def test_hostile_certificate_urls_are_rejected_without_a_request(key: rsa.RSAPrivateKey, url: str) -> None:
    with pytest.raises(SnsCertificateUrlError, match="rejected before any request"):
        check_signing_cert_url(url)
    message = sign(notification(cert_url=url), key, "2")
    fetcher = CountingFetcher({})
    for verifier in (SnsVerifier(clock=Clock(), fetcher=fetcher), SnsVerifier(clock=Clock())):
        with pytest.raises(SnsCertificateUrlError, match="rejected before any request") as caught:
            verifier.verify(message)
        assert caught.value.message_id == message["MessageId"]
    assert fetcher.calls == []


@pytest.mark.parametrize("value", [None, 42, b"https://sns.us-east-1.amazonaws.com" + _PEM.encode()])
def test_non_text_certificate_urls_are_rejected(value: object) -> None:
    with pytest.raises(SnsCertificateUrlError, match="SigningCertURL"):
        check_signing_cert_url(value)  # type: ignore[arg-type]


async def test_hostile_urls_are_rejected_without_a_request_async(key: rsa.RSAPrivateKey) -> None:
    fetcher = CountingFetcher({})
    verifier = SnsVerifier(clock=Clock(), async_fetcher=fetcher.fetch_async, fetcher=fetcher)
    for url in HOSTILE_URLS.values():
        with pytest.raises(SnsCertificateUrlError):
            await verifier.verify_async(sign(notification(cert_url=url), key, "2"))
    assert fetcher.calls == []


def test_hostile_urls_at_a_real_server_get_no_request(
    key: rsa.RSAPrivateKey, pem: bytes, server: LocalHttpsServer, tls: Tls, clock: Clock
) -> None:
    server.serve(local_cert_path(), (200, pem, {}))
    o = server.origin
    hostile = [
        f"https://{o}{local_cert_path()}",  # the right file, but no allowance for this origin
        f"http://{o}{local_cert_path()}",
        f"https://user@{o}{local_cert_path()}",
        f"https://{o}{local_cert_path()}?x=1",
        f"https://{o}{local_cert_path()}#x",
        f"https://{o}/evil.pem",
        f"https://{o}/x{local_cert_path()}",
        f"https://127.0.0.2:{o.split(':')[1]}{local_cert_path()}",
        f"https://{o.split(':')[0]}{local_cert_path()}",
    ]
    strict = SnsVerifier(clock=clock, ssl_context=tls.client_context())
    allowed = local_verifier(server, tls, clock)
    for url in hostile:
        message = sign(notification(cert_url=url), key, "2")
        verifiers = [strict] if url == hostile[0] else [strict, allowed]
        for verifier in verifiers:
            with pytest.raises(SnsCertificateUrlError):
                verifier.verify(message)
    assert server.requests == []
    # The strict module-level rule never honours any verifier's allowance.
    with pytest.raises(SnsCertificateUrlError):
        check_signing_cert_url(hostile[0])


@pytest.mark.parametrize(
    "origin",
    ["evil.com:443", "10.0.0.1:8443", "127.0.0.1", "user@127.0.0.1:1", "127.0.0.1:1/path", "0.0.0.0:80", ""],
)
def test_test_only_origins_must_be_loopback_with_a_port(origin: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        SnsVerifier(test_only_allowed_origins=[origin])


def test_test_only_origins_accept_loopback_forms() -> None:
    for origin in ["127.0.0.1:8443", "localhost:1", "[::1]:443", "127.1.2.3:9"]:
        SnsVerifier(test_only_allowed_origins=[origin])
    with pytest.raises(TypeError, match="not one string"):
        SnsVerifier(test_only_allowed_origins="127.0.0.1:8443")


# --- fetching from a real local HTTPS server ---------------------------------------------------------------


def test_sync_fetch_from_https_server_then_cache(
    key: rsa.RSAPrivateKey, pem: bytes, server: LocalHttpsServer, tls: Tls, clock: Clock
) -> None:
    url = server.serve(local_cert_path(), (200, pem, {"Content-Type": "application/x-pem-file"}))
    verifier = local_verifier(server, tls, clock)
    verifier.verify(sign(notification(cert_url=url), key, "2"))
    assert server.paths() == [local_cert_path()]
    verifier.verify(sign(notification(cert_url=url, message_id="second"), key, "1"))
    assert server.paths() == [local_cert_path()]  # the second verification made no request
    assert verifier.cached_certificates == 1


async def test_async_fetch_from_https_server_single_flight_and_cache(
    key: rsa.RSAPrivateKey, pem: bytes, server: LocalHttpsServer, tls: Tls, clock: Clock
) -> None:
    assert sns_verify._load_aiohttp() is not None  # this test exercises the aiohttp transport
    url = server.serve(local_cert_path(), (200, pem, {}))
    verifier = local_verifier(server, tls, clock)
    messages = [sign(notification(cert_url=url, message_id=f"m{i}"), key, "2") for i in range(5)]
    await asyncio.gather(*(verifier.verify_async(m) for m in messages))
    assert server.paths() == [local_cert_path()]  # five concurrent verifications, one fetch
    await verifier.verify_async(messages[0])
    verifier.verify(messages[1])  # the sync twin shares the cache
    assert server.paths() == [local_cert_path()]


async def test_async_fetch_without_aiohttp_runs_in_a_thread(
    key: rsa.RSAPrivateKey,
    pem: bytes,
    server: LocalHttpsServer,
    tls: Tls,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sns_verify, "_load_aiohttp", lambda: None)  # as if the aiohttp extra were absent
    url = server.serve(local_cert_path(), (200, pem, {}))
    verifier = local_verifier(server, tls, clock)
    messages = [sign(notification(cert_url=url, message_id=f"m{i}"), key, "2") for i in range(3)]
    await asyncio.gather(*(verifier.verify_async(m) for m in messages))
    assert server.paths() == [local_cert_path()]


async def test_async_single_flight_with_an_injected_fetcher(key: rsa.RSAPrivateKey, pem: bytes) -> None:
    fetcher = CountingFetcher({CERT_URL: pem})
    verifier = SnsVerifier(clock=Clock(), async_fetcher=fetcher.fetch_async)
    bad = {**sign(notification(message_id="bad"), key, "2"), "Message": "altered"}
    results = await asyncio.gather(
        *(verifier.verify_async(sign(notification(message_id=f"m{i}"), key, "2")) for i in range(4)),
        verifier.verify_async(bad),
        return_exceptions=True,
    )
    assert results[:4] == [None] * 4
    assert isinstance(results[4], SnsVerificationError)
    assert results[4].message_id == "bad"
    assert fetcher.calls == [CERT_URL]


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_failed_fetch_is_not_cached(
    key: rsa.RSAPrivateKey, pem: bytes, server: LocalHttpsServer, tls: Tls, clock: Clock, mode: str
) -> None:
    url = server.serve(local_cert_path(), (503, b"busy", {}), (200, pem, {}))
    verifier = local_verifier(server, tls, clock)
    message = sign(notification(cert_url=url), key, "2")

    async def verify() -> None:
        if mode == "sync":
            verifier.verify(message)
        else:
            await verifier.verify_async(message)

    with pytest.raises(SnsCertificateFetchError, match="HTTP 503") as caught:
        await verify()
    assert caught.value.retryable is True
    assert caught.value.message_id == message["MessageId"]
    assert verifier.cached_certificates == 0
    await verify()
    await verify()
    assert server.paths() == [local_cert_path()] * 2


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_missing_certificate_is_not_retryable(
    key: rsa.RSAPrivateKey, server: LocalHttpsServer, tls: Tls, clock: Clock, mode: str
) -> None:
    url = f"https://{server.origin}{local_cert_path(7)}"  # nothing served there: 404
    verifier = local_verifier(server, tls, clock)
    message = sign(notification(cert_url=url), key, "2")
    with pytest.raises(SnsCertificateFetchError, match="HTTP 404") as caught:
        await call(mode, verifier.verify, verifier.verify_async, message)
    assert caught.value.retryable is False


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_redirects_are_not_followed(
    key: rsa.RSAPrivateKey, pem: bytes, server: LocalHttpsServer, tls: Tls, clock: Clock, mode: str
) -> None:
    target = server.serve(local_cert_path(2), (200, pem, {}))
    url = server.serve(local_cert_path(1), (302, b"", {"Location": target}))
    verifier = local_verifier(server, tls, clock)
    message = sign(notification(cert_url=url), key, "2")
    with pytest.raises(SnsCertificateFetchError, match="HTTP 302"):
        await call(mode, verifier.verify, verifier.verify_async, message)
    assert server.paths() == [local_cert_path(1)]


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_tls_is_verified(
    key: rsa.RSAPrivateKey, pem: bytes, server: LocalHttpsServer, clock: Clock, mode: str
) -> None:
    url = server.serve(local_cert_path(), (200, pem, {}))
    # Allowed origin, but the default TLS context does not trust the test CA.
    verifier = SnsVerifier(clock=clock, test_only_allowed_origins=[server.origin])
    message = sign(notification(cert_url=url), key, "2")
    with pytest.raises(
        SnsCertificateFetchError, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify failed"
    ):
        await call(mode, verifier.verify, verifier.verify_async, message)
    assert server.requests == []


def test_oversized_response_is_refused(
    key: rsa.RSAPrivateKey, server: LocalHttpsServer, tls: Tls, clock: Clock
) -> None:
    url = server.serve(local_cert_path(), (200, b"A" * (64 * 1024 + 1), {}))
    verifier = local_verifier(server, tls, clock)
    with pytest.raises(SnsCertificateFetchError, match="larger than") as caught:
        verifier.verify(sign(notification(cert_url=url), key, "2"))
    assert caught.value.retryable is False


def test_cache_expiry_refetches(
    key: rsa.RSAPrivateKey, pem: bytes, server: LocalHttpsServer, tls: Tls, clock: Clock
) -> None:
    url = server.serve(local_cert_path(), (200, pem, {}))
    verifier = local_verifier(server, tls, clock, cache_ttl=timedelta(minutes=10))

    def verify_now() -> None:
        verifier.verify(sign(notification(cert_url=url, when=clock.now), key, "2"))

    verify_now()
    clock.advance(timedelta(minutes=9, seconds=59))
    verify_now()
    assert len(server.requests) == 1
    clock.advance(timedelta(seconds=1))  # exactly cache_ttl after the fetch: expired
    verify_now()
    assert len(server.requests) == 2
    clock.advance(timedelta(minutes=5))
    verify_now()
    assert len(server.requests) == 2


def test_cache_is_bounded(key: rsa.RSAPrivateKey, pem: bytes) -> None:
    urls = [CERT_URL.replace("0123456789abcdef0123", f"{i:020x}") for i in range(3)]
    fetcher = CountingFetcher(dict.fromkeys(urls, pem))
    verifier = SnsVerifier(clock=Clock(), fetcher=fetcher, cache_size=2)
    for url in [urls[0], urls[1], urls[0], urls[2]]:  # urls[1] is least recently used when urls[2] arrives
        verifier.verify(sign(notification(cert_url=url), key, "2"))
    assert fetcher.calls == [urls[0], urls[1], urls[2]]
    assert verifier.cached_certificates == 2
    verifier.verify(sign(notification(cert_url=urls[0]), key, "2"))
    verifier.verify(sign(notification(cert_url=urls[1]), key, "2"))
    assert fetcher.calls == [urls[0], urls[1], urls[2], urls[1]]
    verifier.clear_cache()
    assert verifier.cached_certificates == 0
    # cache_size=0 disables caching.
    uncached = SnsVerifier(clock=Clock(), fetcher=fetcher, cache_size=0)
    for _ in range(2):
        uncached.verify(sign(notification(cert_url=urls[0]), key, "2"))
    assert fetcher.calls[-2:] == [urls[0], urls[0]]


def test_cache_is_thread_safe(key: rsa.RSAPrivateKey, pem: bytes) -> None:
    from concurrent.futures import ThreadPoolExecutor

    urls = [CERT_URL.replace("0123456789abcdef0123", f"{i:020x}") for i in range(6)]
    fetcher = CountingFetcher(dict.fromkeys(urls, pem))
    verifier = SnsVerifier(clock=Clock(), fetcher=fetcher, cache_size=4)
    messages = [sign(notification(cert_url=urls[i % 6]), key, "2") for i in range(60)]
    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(verifier.verify, messages)) == [None] * 60
    assert verifier.cached_certificates == 4


# --- subscription confirmation -----------------------------------------------------------------------------

CONFIRM_XML = (
    b'<ConfirmSubscriptionResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">\n'
    b"  <ConfirmSubscriptionResult>\n"
    b"    <SubscriptionArn>arn:aws:sns:eu-west-1:123456789012:ses-events:8a21d249-4329-4871-acc6-7be709c6ea7f"
    b"</SubscriptionArn>\n  </ConfirmSubscriptionResult>\n"
    b"  <ResponseMetadata><RequestId>075ecce8-8dac-11e1-bf80-f781d96e9307</RequestId></ResponseMetadata>\n"
    b"</ConfirmSubscriptionResponse>\n"
)
SUBSCRIPTION_ARN = "arn:aws:sns:eu-west-1:123456789012:ses-events:8a21d249-4329-4871-acc6-7be709c6ea7f"


def local_confirmation(
    key: rsa.RSAPrivateKey,
    server: LocalHttpsServer,
    pem: bytes,
    kind: str = "SubscriptionConfirmation",
    **kw: Any,
) -> dict[str, Any]:
    cert_url = server.serve(local_cert_path(), (200, pem, {}))
    topic = kw.pop("topic", TOPIC)
    url = kw.pop("url", subscribe_url(server.origin, topic))
    return sign(confirmation(kind, cert_url=cert_url, topic=topic, url=url, **kw), key, "2")


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_confirm_subscription_fetches_after_verifying(
    key: rsa.RSAPrivateKey, pem: bytes, server: LocalHttpsServer, tls: Tls, clock: Clock, mode: str
) -> None:
    message = local_confirmation(key, server, pem)
    server.serve("/", (200, CONFIRM_XML, {"Content-Type": "text/xml"}))
    verifier = local_verifier(server, tls, clock, topic_arns=[TOPIC])
    if mode == "sync":
        arn = verifier.confirm_subscription(message)
    else:
        arn = await verifier.confirm_subscription_async(message)
    assert arn == SUBSCRIPTION_ARN
    # The certificate was fetched (to verify) before the SubscribeURL, which was fetched exactly as signed.
    assert server.paths() == [local_cert_path(), "/"]
    assert f"https://{server.origin}{server.requests[1]}" == message["SubscribeURL"]


def test_confirm_returns_the_url_when_the_answer_names_no_arn(
    key: rsa.RSAPrivateKey, pem: bytes, server: LocalHttpsServer, tls: Tls, clock: Clock
) -> None:
    message = local_confirmation(key, server, pem)
    server.serve("/", (200, b"<ok/>", {}))
    verifier = local_verifier(server, tls, clock, topic_arns=[TOPIC])
    assert verifier.confirm_subscription(message) == message["SubscribeURL"]


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_confirm_never_fetches_an_unverified_message(
    key: rsa.RSAPrivateKey, pem: bytes, server: LocalHttpsServer, tls: Tls, clock: Clock, mode: str
) -> None:
    message = {**local_confirmation(key, server, pem), "Message": "tampered"}
    server.serve("/", (200, CONFIRM_XML, {}))
    verifier = local_verifier(server, tls, clock, topic_arns=[TOPIC])
    with pytest.raises(SnsVerificationError, match="does not match"):
        await call(mode, verifier.confirm_subscription, verifier.confirm_subscription_async, message)
    assert "/" not in server.paths()


def test_confirm_enforces_the_allowlist(
    key: rsa.RSAPrivateKey, pem: bytes, server: LocalHttpsServer, tls: Tls, clock: Clock
) -> None:
    message = local_confirmation(key, server, pem, topic=OTHER_TOPIC)
    server.serve("/", (200, CONFIRM_XML, {}))
    verifier = local_verifier(server, tls, clock, topic_arns=[TOPIC])
    with pytest.raises(SnsVerificationError, match="allowlist"):
        verifier.confirm_subscription(message, confirm_any_topic=True)  # the opt-in does not override a list
    assert server.requests == []


async def test_confirm_without_allowlist_needs_explicit_opt_in(
    key: rsa.RSAPrivateKey, pem: bytes, server: LocalHttpsServer, tls: Tls, clock: Clock
) -> None:
    message = local_confirmation(key, server, pem, topic=OTHER_TOPIC)
    server.serve("/", (200, CONFIRM_XML, {}))
    verifier = local_verifier(server, tls, clock)
    with pytest.raises(SnsSubscriptionError, match="without a topic allowlist"):
        verifier.confirm_subscription(message)
    with pytest.raises(SnsSubscriptionError, match="without a topic allowlist"):
        await verifier.confirm_subscription_async(message)
    assert server.requests == []
    assert verifier.confirm_subscription(message, confirm_any_topic=True) == SUBSCRIPTION_ARN
    assert server.paths() == [local_cert_path(), "/"]


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_unsubscribe_confirmation_is_never_followed(
    key: rsa.RSAPrivateKey, pem: bytes, server: LocalHttpsServer, tls: Tls, clock: Clock, mode: str
) -> None:
    message = local_confirmation(key, server, pem, kind="UnsubscribeConfirmation")
    server.serve("/", (200, CONFIRM_XML, {}))
    verifier = local_verifier(server, tls, clock, topic_arns=[TOPIC])
    verifier.verify(message)  # a genuine message...
    with pytest.raises(SnsSubscriptionError, match="UnsubscribeConfirmation"):  # ...still never followed
        await call(
            mode,
            verifier.confirm_subscription,
            verifier.confirm_subscription_async,
            message,
            confirm_any_topic=True,
        )
    assert "/" not in server.paths()
    with pytest.raises(SnsSubscriptionError, match="UnsubscribeConfirmation"):
        subscription_confirmation_params(message)


def test_notification_is_not_a_confirmation(key: rsa.RSAPrivateKey, pem: bytes) -> None:
    verifier = SnsVerifier(topic_arns=[TOPIC], clock=Clock(), fetcher=CountingFetcher({CERT_URL: pem}))
    with pytest.raises(SnsSubscriptionError, match="only a SubscriptionConfirmation"):
        verifier.confirm_subscription(sign(notification(), key, "2"))


@pytest.mark.parametrize(
    "make_url",
    [
        lambda origin: subscribe_url("sns.eu-west-1.amazonaws.com.evil.com"),
        lambda origin: subscribe_url("evil.example"),
        lambda origin: subscribe_url(f"user@{origin}"),
        lambda origin: f"http://{origin}/?Action=ConfirmSubscription&TopicArn={TOPIC}&Token={TOKEN}",
        lambda origin: subscribe_url(origin).replace("/?", "/x?"),
        lambda origin: subscribe_url(origin).replace("ConfirmSubscription", "Unsubscribe"),
        lambda origin: subscribe_url(origin, topic=OTHER_TOPIC),
        lambda origin: subscribe_url(origin, token="other-token"),
        lambda origin: subscribe_url(origin) + "&Token=again",
        lambda origin: subscribe_url(origin) + "#frag",
        lambda origin: subscribe_url("sns.eu-west-1.amazonaws.com:443"),
    ],
    ids=[
        "evil-suffix",
        "other-host",
        "userinfo",
        "http",
        "path",
        "action",
        "topic-mismatch",
        "token-mismatch",
        "repeated-key",
        "fragment",
        "port",
    ],
)
def test_confirm_validates_the_subscribe_url_after_verifying(
    key: rsa.RSAPrivateKey,
    pem: bytes,
    server: LocalHttpsServer,
    tls: Tls,
    clock: Clock,
    make_url: Callable[[str], str],
) -> None:
    message = local_confirmation(key, server, pem, url=make_url(server.origin))
    server.serve("/", (200, CONFIRM_XML, {}))
    verifier = local_verifier(server, tls, clock, topic_arns=[TOPIC])
    verifier.verify(message)  # genuinely signed, yet its URL is refused
    with pytest.raises(SnsCertificateUrlError, match="SubscribeURL"):
        verifier.confirm_subscription(message)
    assert "/" not in server.paths()


def test_confirmation_request_failure_is_reported(
    key: rsa.RSAPrivateKey, pem: bytes, server: LocalHttpsServer, tls: Tls, clock: Clock
) -> None:
    message = local_confirmation(key, server, pem)
    server.serve("/", (500, b"oops", {}), (403, b"denied", {}))
    verifier = local_verifier(server, tls, clock, topic_arns=[TOPIC])
    with pytest.raises(SnsSubscriptionError, match="HTTP 500") as caught:
        verifier.confirm_subscription(message)
    assert caught.value.retryable is True
    with pytest.raises(SnsSubscriptionError, match="HTTP 403") as caught:
        verifier.confirm_subscription(message)
    assert caught.value.retryable is False


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        (subscribe_url("sns.eu-west-1.amazonaws.com"), True),
        (subscribe_url("sns.us-east-1.amazonaws.com"), False),  # not the topic's region
        (subscribe_url("sns.eu-west-1.amazonaws.com").replace("TopicArn=", "Topic="), False),
        ("https://sns.eu-west-1.amazonaws.com/", False),
        (subscribe_url("sns.eu-west-1.amazonaws.com") + "&&", False),
        (subscribe_url("127.0.0.1:8443"), False),  # never without a verifier's test allowance
    ],
)
def test_check_subscribe_url(url: str, ok: bool) -> None:
    message = confirmation(url=url)
    if ok:
        assert check_subscribe_url(message) == url
    else:
        with pytest.raises(SnsCertificateUrlError):
            check_subscribe_url(message)


def test_china_subscribe_url() -> None:
    topic = "arn:aws-cn:sns:cn-north-1:123456789012:events"
    url = subscribe_url("sns.cn-north-1.amazonaws.com.cn", topic=topic)
    assert check_subscribe_url(confirmation(topic=topic, url=url)) == url


def test_confirmation_params_for_the_sns_api() -> None:
    message = confirmation()
    params = subscription_confirmation_params(message)
    assert params == ConfirmSubscriptionParams(TOPIC, TOKEN, "eu-west-1")
    assert params.as_kwargs() == {"TopicArn": TOPIC, "Token": TOKEN}
    assert TOKEN not in repr(params)
    strict = subscription_confirmation_params(message, authenticate_on_unsubscribe=True)
    assert strict.as_kwargs() == {"TopicArn": TOPIC, "Token": TOKEN, "AuthenticateOnUnsubscribe": "true"}
    with pytest.raises(SnsSubscriptionError, match="only a SubscriptionConfirmation"):
        subscription_confirmation_params(notification())
    with pytest.raises(SnsSubscriptionError, match="not an SNS topic ARN"):
        subscription_confirmation_params({**message, "TopicArn": "arn:aws:sqs:eu-west-1:123456789012:q"})
    with pytest.raises(SnsSubscriptionError, match="Token"):
        subscription_confirmation_params({**message, "Token": ""})


def test_confirmation_params_work_with_moto(moto_server: str) -> None:
    """The params are what SNS's ConfirmSubscription accepts (moto in server mode answers it)."""
    import boto3

    sns = boto3.client("sns", region_name="eu-west-1", endpoint_url=moto_server)
    topic = sns.create_topic(Name="sesflow-sns-verify-confirm")["TopicArn"]
    token = "a" * 64
    params = subscription_confirmation_params(
        confirmation(topic=topic, token=token, url=subscribe_url("sns.eu-west-1.amazonaws.com", topic, token))
    )
    answer = boto3.client("sns", region_name=params.region, endpoint_url=moto_server).confirm_subscription(
        **params.as_kwargs()
    )
    assert answer["SubscriptionArn"].startswith(topic + ":")


def test_errors_are_sesflow_errors() -> None:
    for cls in (SnsCertificateUrlError, SnsCertificateFetchError, SnsSubscriptionError):
        assert issubclass(cls, SnsVerificationError)
    assert sns_time(T0) == "2024-06-01T12:00:00.123Z"


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_a_queued_message_s_age_is_judged_when_it_was_delivered(
    key: rsa.RSAPrivateKey, pem: bytes, mode: str
) -> None:
    fetcher = CountingFetcher({CERT_URL: pem})
    verifier = SnsVerifier(clock=Clock(), fetcher=fetcher, async_fetcher=fetcher.fetch_async)
    sent = T0 - timedelta(days=3)  # SNS sent it three days ago; it has waited in a queue since
    message = sign(notification(when=sent), key, "2")
    with pytest.raises(SnsVerificationError, match="older than"):
        await call(mode, verifier.verify, verifier.verify_async, message)
    # SQS received it a second after SNS sent it: young at delivery, so it verifies however long it waited.
    delivered = sent + timedelta(seconds=1)
    await call(mode, verifier.verify, verifier.verify_async, message, delivered_at=delivered)
    # The replay window still applies between SNS and the queue, and so does everything else.
    with pytest.raises(SnsVerificationError, match="older than"):
        await call(
            mode, verifier.verify, verifier.verify_async, message, delivered_at=sent + timedelta(hours=2)
        )
    with pytest.raises(SnsVerificationError, match="in the future"):
        await call(
            mode, verifier.verify, verifier.verify_async, message, delivered_at=sent - timedelta(hours=1)
        )
    forged = {**message, "Message": message["Message"] + " "}
    with pytest.raises(SnsVerificationError):
        await call(mode, verifier.verify, verifier.verify_async, forged, delivered_at=delivered)
    with pytest.raises(ValueError, match="delivered_at must be an aware datetime"):
        await call(
            mode, verifier.verify, verifier.verify_async, message, delivered_at=delivered.replace(tzinfo=None)
        )


# --- hostile envelopes: one verification error each, and never a fetch of their URL ------------------------


def test_the_hostile_table_is_large_and_its_names_unique() -> None:
    assert len(HOSTILE) >= 40
    assert len({case.name for case in HOSTILE}) == len(HOSTILE)


@pytest.mark.parametrize("case", HOSTILE, ids=lambda case: case.name)
async def test_a_hostile_envelope_gets_its_own_verification_error(
    key: rsa.RSAPrivateKey, pem: bytes, case: Hostile
) -> None:
    message = case.build(key)
    fetcher = GenuineFetcher(pem)
    verifier = SnsVerifier(
        clock=case.when, fetcher=fetcher, async_fetcher=fetcher.fetch_async, replay_guard=MemoryReplayGuard()
    )
    for mode in ("sync", "async"):
        with pytest.raises(SnsVerificationError) as caught:
            await call(mode, verifier.verify, verifier.verify_async, message)
        assert type(caught.value) is case.error
        assert re.search(case.reason, caught.value.reason), caught.value.reason
    with pytest.raises(SnsVerificationError) as pure:
        verify_with_certificate(message, REAL_PEM if case.real else pem, case.when())
    assert type(pure.value) is case.error
    assert set(fetcher.calls) <= GENUINE_URLS  # a hostile URL is never fetched
    if case.error is SnsCertificateUrlError:
        assert fetcher.calls == []


@pytest.mark.parametrize("case", HOSTILE, ids=lambda case: case.name)
def test_a_hostile_envelope_in_a_lambda_sns_event_becomes_an_error_item(
    key: rsa.RSAPrivateKey, pem: bytes, case: Hostile
) -> None:
    fetcher = GenuineFetcher(pem)
    verifier = SnsVerifier(clock=case.when, fetcher=fetcher)
    event = {"Records": [{"EventSource": "aws:sns", "Sns": case.build(key)}]}
    [item] = sns_lambda_items(event, verifier=verifier)
    assert item.record is None
    assert isinstance(item.error, SnsVerificationError | SourceError)
    assert item.meta.get("sns_verified") is not True
    assert set(fetcher.calls) <= GENUINE_URLS


def test_the_field_shift_keeps_aws_s_signature_but_no_longer_verifies() -> None:
    message = vector("signed-v1-complaint-event.json")
    shifted = {k: v for k, v in message.items() if k != "Subject"}
    shifted["MessageId"] = f"{message['MessageId']}\nSubject\n{message['Subject']}"
    # The attack is real: the shifted envelope signs the very same bytes (computed without sesflow).
    assert string_to_sign(shifted) == string_to_sign(message)
    verify_with_certificate(message, REAL_PEM, at(message))
    with pytest.raises(SnsVerificationError, match=r"MessageId .* line break or control character"):
        verify_with_certificate(shifted, REAL_PEM, at(message))
    with pytest.raises(SnsVerificationError, match="line break"):
        canonical_string(shifted)


@pytest.mark.parametrize("key_name", ["Message", "Subject", "MessageId"])
def test_canonical_string_refuses_lone_surrogates_with_a_verification_error(key_name: str) -> None:
    with pytest.raises(SnsVerificationError, match="lone surrogate"):
        canonical_string({**notification(), key_name: "a\ud800b"})


def test_only_message_may_span_lines() -> None:
    message = {**notification(), "Message": "line one\r\nline two\x00\u2028"}
    assert canonical_string(message).startswith(b"Message\nline one\r\nline two\x00\xe2\x80\xa8\nMessageId\n")


class _ExplodingMapping(Mapping[str, Any]):
    """A mapping that fails on every lookup: nothing in the verifier expects that."""

    def __getitem__(self, key: str) -> Any:
        raise RuntimeError("lookup failed")

    def __iter__(self) -> Iterator[str]:
        return iter(["Type"])

    def __len__(self) -> int:
        return 1


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_an_unforeseen_exception_becomes_an_unexpected_verification_error(
    mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    verifier = SnsVerifier(clock=Clock(), fetcher=CountingFetcher({}))
    with pytest.raises(SnsUnexpectedError) as caught:
        await call(mode, verifier.verify, verifier.verify_async, _ExplodingMapping())
    assert isinstance(caught.value, SnsVerificationError)
    assert isinstance(caught.value.__cause__, RuntimeError)
    assert "unexpected RuntimeError" in caught.value.reason
    assert "lookup failed" in caplog.text  # the traceback is logged for the bug report
    for pure in (canonical_string, check_subscribe_url, subscription_confirmation_params):
        with pytest.raises(SnsUnexpectedError):
            pure(_ExplodingMapping())


# --- the certificate itself -------------------------------------------------------------------------------

CN_CERT_URL = "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-0123abcd.pem"
GOV_CERT_URL = "https://sns.us-gov-west-1.amazonaws.com/SimpleNotificationService-0123abcd.pem"


@pytest.mark.parametrize(
    ("url", "names", "accepted"),
    [
        (CERT_URL, {"common_name": "sns.amazonaws.com"}, True),
        (CERT_URL, {"common_name": "SNS.AmazonAWS.com"}, True),  # DNS names ignore case
        (CERT_URL, {"common_name": None, "dns_names": ["sns.amazonaws.com"]}, True),
        (CERT_URL, {"common_name": "sns-eu-west-1.amazonaws.com"}, True),  # the region's own form
        (CERT_URL, {"common_name": "sns-us-east-1.amazonaws.com"}, False),  # another region's
        (CERT_URL, {"common_name": "sns.amazonaws.com.cn"}, False),  # another partition's
        (CERT_URL, {"common_name": "attacker.example", "dns_names": ["www.attacker.example"]}, False),
        (CERT_URL, {"common_name": "sns.amazonaws.com.attacker.example"}, False),
        (CERT_URL, {"common_name": "*.amazonaws.com"}, False),
        (CERT_URL, {"common_name": None}, False),
        (CN_CERT_URL, {"common_name": "sns-cn-north-1.amazonaws.com.cn"}, True),
        (CN_CERT_URL, {"common_name": "sns.amazonaws.com.cn"}, True),
        (CN_CERT_URL, {"common_name": "sns.amazonaws.com"}, False),
        (GOV_CERT_URL, {"common_name": "sns-us-gov-west-1.amazonaws.com"}, True),
        (GOV_CERT_URL, {"common_name": "sns.amazonaws.com"}, True),
        (CERT_URL, {"digital_signature": True}, True),
        (CERT_URL, {"digital_signature": False}, False),
    ],
)
def test_the_certificate_must_be_issued_to_sns(
    key: rsa.RSAPrivateKey, url: str, names: dict[str, Any], accepted: bool
) -> None:
    cert = self_signed_pem(key, **names)
    message = sign(notification(cert_url=url), key, "2")
    fetcher = CountingFetcher({url: cert})
    verifier = SnsVerifier(clock=Clock(), fetcher=fetcher)
    if accepted:
        verifier.verify(message)
        verify_with_certificate(message, cert, T0)
        assert verifier.cached_certificates == 1
        return
    for injected_or_given in (
        lambda: verifier.verify(message),
        lambda: verify_with_certificate(message, cert, T0),
    ):
        with pytest.raises(SnsCertificateFetchError) as caught:
            injected_or_given()
        assert caught.value.retryable is False  # fetching it again cannot help
        assert re.search("not to Amazon SNS|digital signatures", caught.value.reason)
    assert verifier.cached_certificates == 0


def test_a_fetched_certificate_not_issued_to_sns_is_refused(
    server: LocalHttpsServer, tls: Tls, clock: Clock, key: rsa.RSAPrivateKey
) -> None:
    url = server.serve(local_cert_path(), (200, self_signed_pem(key, common_name="attacker.example"), {}))
    verifier = local_verifier(server, tls, clock)
    with pytest.raises(SnsCertificateFetchError, match=r"issued to 'attacker.example', not to Amazon SNS"):
        verifier.verify(sign(notification(cert_url=url), key, "2"))
    assert verifier.cached_certificates == 0


# --- the system CA store is loaded only when a real fetch needs it ------------------------------------------


async def test_the_default_tls_context_is_made_on_the_first_real_fetch_only(
    monkeypatch: pytest.MonkeyPatch,
    server: LocalHttpsServer,
    tls: Tls,
    clock: Clock,
    key: rsa.RSAPrivateKey,
    pem: bytes,
) -> None:
    trusting_the_test_ca = tls.client_context()
    made: list[ssl.SSLContext] = []

    def create_default_context() -> ssl.SSLContext:  # in place of loading the system's CA store
        made.append(trusting_the_test_ca)
        return trusting_the_test_ca

    monkeypatch.setattr(ssl, "create_default_context", create_default_context)
    injected = SnsVerifier(clock=clock, fetcher=CountingFetcher({CERT_URL: pem}))
    injected.verify(sign(notification(), key, "2"))
    assert made == []  # nothing to fetch over the network, so no CA store

    url = server.serve(local_cert_path(), (200, pem, {}))
    message = sign(notification(cert_url=url), key, "2")
    verifier = SnsVerifier(clock=clock, cache_size=0, test_only_allowed_origins=[server.origin])
    assert made == []
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        for done in [pool.submit(verifier.verify, message) for _ in range(4)]:
            done.result()
    await verifier.verify_async(message)
    assert len(made) == 1  # made once, shared by threads and the event loop
    assert server.paths() == [local_cert_path()] * 5


# --- the replay guard --------------------------------------------------------------------------------------


def test_memory_replay_guard_remembers_until_its_time_and_forgets_the_oldest_when_full(
    caplog: pytest.LogCaptureFixture,
) -> None:
    guard = MemoryReplayGuard(max_entries=2)
    hour = timedelta(hours=1)
    guard.remember("a", T0 + hour)
    assert guard.seen("a", T0)
    assert not guard.seen("b", T0)
    assert not guard.seen("a", T0 + hour)  # its time is up
    assert len(guard) == 0  # and it was dropped
    for message_id in ("a", "b", "c"):
        guard.remember(message_id, T0 + hour)
    assert [guard.seen(m, T0) for m in ("a", "b", "c")] == [False, True, True]
    guard.remember("d", T0 + hour)
    assert caplog.text.count("forgets the oldest") == 1  # said once, not for every id
    guard.remember("d", T0 + 2 * hour)  # remembered again: until the later time
    assert guard.seen("d", T0 + 1.5 * hour)


@pytest.mark.parametrize("size", [0, -1, 1.5, True, "10"])
def test_memory_replay_guard_needs_a_positive_size(size: Any) -> None:
    with pytest.raises(ValueError, match="max_entries"):
        MemoryReplayGuard(max_entries=size)


def test_a_replay_guard_must_be_one() -> None:
    with pytest.raises(TypeError, match="replay_guard"):
        SnsVerifier(replay_guard=object())  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_a_handled_message_is_a_replay_but_a_redelivery_after_a_failure_verifies(
    key: rsa.RSAPrivateKey, pem: bytes, mode: str
) -> None:
    clock = Clock()
    fetcher = CountingFetcher({CERT_URL: pem})
    verifier = SnsVerifier(
        clock=clock, fetcher=fetcher, async_fetcher=fetcher.fetch_async, replay_guard=MemoryReplayGuard()
    )
    message = sign(notification(), key, "2")
    await call(mode, verifier.verify, verifier.verify_async, message)
    # Its handling failed, so it was not marked: SNS's (or SQS's) redelivery, same MessageId, still verifies.
    await call(mode, verifier.verify, verifier.verify_async, message)
    verifier.mark_handled(message["MessageId"])
    with pytest.raises(SnsReplayError) as caught:
        await call(mode, verifier.verify, verifier.verify_async, message)
    assert caught.value.message_id == message["MessageId"]
    # A forged message with a handled MessageId is refused as forged: the guard comes after the signature.
    with pytest.raises(SnsVerificationError) as forged:
        await call(mode, verifier.verify, verifier.verify_async, {**message, "Message": "{}"})
    assert type(forged.value) is SnsVerificationError
    assert "does not match" in forged.value.reason
    # The guard remembers it for max_age + clock_skew; by then the age check refuses the message anyway.
    clock.advance(timedelta(hours=1, minutes=5))
    assert verifier.replay_guard is not None
    assert not verifier.replay_guard.seen(message["MessageId"], clock.now)
    with pytest.raises(SnsVerificationError, match="older than"):
        await call(mode, verifier.verify, verifier.verify_async, message)


class _StoreDown:
    """A shared replay store that cannot be reached."""

    def seen(self, message_id: str, now: datetime) -> bool:
        raise ConnectionError("replay store unreachable")

    def remember(self, message_id: str, until: datetime) -> None:
        raise ConnectionError("replay store unreachable")


def test_a_replay_store_that_is_down_makes_the_message_retryable(
    key: rsa.RSAPrivateKey, pem: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    verifier = SnsVerifier(clock=Clock(), fetcher=CountingFetcher({CERT_URL: pem}), replay_guard=_StoreDown())
    message = sign(notification(), key, "2")
    with pytest.raises(SnsReplayGuardError) as caught:
        verifier.verify(message)
    assert caught.value.retryable is True
    assert isinstance(caught.value.__cause__, ConnectionError)
    verifier.mark_handled(message["MessageId"])  # the message was handled: only the protection is lost
    assert "could not remember SNS message" in caplog.text


def test_without_a_replay_guard_a_message_verifies_again_and_marking_does_nothing(
    key: rsa.RSAPrivateKey, pem: bytes
) -> None:
    verifier = SnsVerifier(clock=Clock(), fetcher=CountingFetcher({CERT_URL: pem}))
    message = sign(notification(), key, "2")
    verifier.verify(message)
    verifier.mark_handled(message["MessageId"])
    verifier.verify(message)
    assert verifier.replay_guard is None


def test_new_errors_are_verification_errors() -> None:
    for cls in (SnsReplayError, SnsReplayGuardError, SnsUnexpectedError):
        assert issubclass(cls, SnsVerificationError)
    assert sns_verify.SnsReplayError is SnsReplayError  # one class, importable from either module
