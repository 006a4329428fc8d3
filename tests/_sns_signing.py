"""SNS verification test helpers: sign messages with our own key, serve them from a local HTTPS server.

The canonical string is built here independently of ``sesflow.sources.sns_verify`` (straight from the rule in
the SNS documentation) so that a mistake in the library cannot be mirrored by the helper that signs.
"""

from __future__ import annotations

import base64
import http.server
import ipaddress
import ssl
import tempfile
import threading
import urllib.parse
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

T0 = datetime(2024, 6, 1, 12, 0, 0, 123000, tzinfo=UTC)
TOPIC = "arn:aws:sns:eu-west-1:123456789012:ses-events"
OTHER_TOPIC = "arn:aws:sns:eu-west-1:123456789012:someone-elses-topic"
CERT_URL = (
    "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0123456789abcdef0123456789abcdef.pem"
)
TOKEN = (
    "2336412f37fb687f5d51e6e241d09c805a5a57b30d712f794cc5f6a988666d92768dd60a747ba6f3beb71854e285d6ad02428b09"
)


class Clock:
    """An injectable clock that only moves when told to."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def sns_time(when: datetime) -> str:
    """A time as SNS writes it: 2022-03-28T23:59:33.713Z."""
    when = when.astimezone(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


_KEYS = {
    "Notification": ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"],
    "SubscriptionConfirmation": [
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ],
    "UnsubscribeConfirmation": [
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ],
}


def string_to_sign(message: dict[str, Any]) -> bytes:
    out = ""
    for key in _KEYS[message["Type"]]:
        value = message.get(key, message.get(key.replace("URL", "Url")))
        if value is not None:
            out += f"{key}\n{value}\n"
    return out.encode()


def new_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def _key_usage(**allowed: bool) -> x509.KeyUsage:
    """A KeyUsage extension allowing only the uses named (``digital_signature=True`` ...)."""
    uses = (
        "digital_signature",
        "content_commitment",
        "key_encipherment",
        "data_encipherment",
        "key_agreement",
        "key_cert_sign",
        "crl_sign",
        "encipher_only",
        "decipher_only",
    )
    return x509.KeyUsage(**{use: allowed.get(use, False) for use in uses})


def self_signed_pem(
    key: Any,
    *,
    not_before: datetime = T0 - timedelta(days=30),
    not_after: datetime = T0 + timedelta(days=365),
    common_name: str | None = "sns.amazonaws.com",
    dns_names: Sequence[str] = (),
    digital_signature: bool | None = None,
) -> bytes:
    """A self-signed certificate for ``key`` (RSA or EC), issued to ``common_name`` (the name SNS's own
    certificates carry, ``CN=sns.amazonaws.com``, unless told otherwise).

    ``dns_names`` adds a subjectAltName extension; ``digital_signature`` (when not None) adds a KeyUsage
    extension allowing or not allowing digital signatures.
    """
    attributes = [] if common_name is None else [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, "sesflow tests"))
    name = x509.Name(attributes)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    if dns_names:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in dns_names]), critical=False
        )
    if digital_signature is not None:
        builder = builder.add_extension(
            _key_usage(digital_signature=digital_signature, key_encipherment=True), critical=True
        )
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def sign(message: dict[str, Any], key: rsa.RSAPrivateKey, version: str = "1") -> dict[str, Any]:
    """``message`` with SignatureVersion and Signature set, signed with ``key``."""
    algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()
    signature = key.sign(string_to_sign(message), padding.PKCS1v15(), algorithm)
    return {**message, "SignatureVersion": version, "Signature": base64.b64encode(signature).decode()}


def notification(
    *,
    cert_url: str = CERT_URL,
    topic: str = TOPIC,
    when: datetime = T0,
    subject: str | None = "Amazon SES Email Event Notification",
    message: str = '{"eventType":"Delivery"}',
    message_id: str = "7c2f2a4e-1d55-5b0c-9a6e-7d2a1f0e9b11",
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Type": "Notification",
        "MessageId": message_id,
        "TopicArn": topic,
        "Message": message,
        "Timestamp": sns_time(when),
        "SigningCertURL": cert_url,
        "UnsubscribeURL": f"https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={topic}:1",
    }
    if subject is not None:
        out["Subject"] = subject
    return out


def subscribe_url(origin: str, topic: str = TOPIC, token: str = TOKEN) -> str:
    query = urllib.parse.urlencode({"Action": "ConfirmSubscription", "TopicArn": topic, "Token": token})
    return f"https://{origin}/?{query}"


def confirmation(
    kind: str = "SubscriptionConfirmation",
    *,
    cert_url: str = CERT_URL,
    topic: str = TOPIC,
    when: datetime = T0,
    url: str | None = None,
    token: str = TOKEN,
) -> dict[str, Any]:
    return {
        "Type": kind,
        "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
        "Token": token,
        "TopicArn": topic,
        "Message": f"You have chosen to subscribe to the topic {topic}.\nTo confirm, visit the SubscribeURL.",
        "SubscribeURL": url
        if url is not None
        else subscribe_url("sns.eu-west-1.amazonaws.com", topic, token),
        "Timestamp": sns_time(when),
        "SigningCertURL": cert_url,
    }


# --- a local HTTPS server --------------------------------------------------------------------------------


@attrs.frozen
class Tls:
    """A throwaway CA and a server certificate for 127.0.0.1 that it issued."""

    ca_pem: bytes
    server_cert_pem: bytes
    server_key_pem: bytes

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cadata=self.ca_pem.decode())


def make_tls() -> Tls:
    ca_key = new_key()
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sesflow test CA")])
    now = datetime.now(UTC)
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(digital_signature=True, key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = new_key()
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return Tls(
        ca.public_bytes(serialization.Encoding.PEM),
        server.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
    )


Response = tuple[int, bytes, dict[str, str]]


class LocalHttpsServer:
    """A threaded HTTPS server on 127.0.0.1 that answers GETs from a table and records every request.

    ``routes[path]`` is a list of responses; each request to ``path`` takes the next one, and the last one
    repeats. ``requests`` lists the request targets (path and query) in arrival order.
    """

    def __init__(self, tls: Tls) -> None:
        self.routes: dict[str, list[Response]] = {}
        self.requests: list[str] = []
        self._lock = threading.Lock()
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = urllib.parse.urlsplit(self.path).path
                with owner._lock:
                    owner.requests.append(self.path)
                    queue = owner.routes.get(path)
                    if queue:
                        response = queue.pop(0) if len(queue) > 1 else queue[0]
                    else:
                        response = (404, b"not found", {})
                status, body, headers = response
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        with tempfile.TemporaryDirectory() as tmp:
            cert, key = Path(tmp, "cert.pem"), Path(tmp, "key.pem")
            cert.write_bytes(tls.server_cert_pem)
            key.write_bytes(tls.server_key_pem)
            context.load_cert_chain(cert, key)
        self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
        self.origin = f"127.0.0.1:{self._httpd.server_address[1]}"
        # A short poll interval keeps shutdown (once per test) quick.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    def serve(self, path: str, *responses: Response) -> str:
        """Answer GETs to ``path`` with ``responses`` in turn; returns the https URL of ``path``."""
        with self._lock:
            self.routes[path] = list(responses)
        return f"https://{self.origin}{path}"

    def paths(self) -> Sequence[str]:
        with self._lock:
            return [urllib.parse.urlsplit(target).path for target in self.requests]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()


@contextmanager
def https_server(tls: Tls) -> Iterator[LocalHttpsServer]:
    server = LocalHttpsServer(tls)
    server.start()
    try:
        yield server
    finally:
        server.stop()
