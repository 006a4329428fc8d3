"""Where and how an SMTP sender connects: SES's endpoints and ports, the SMTP password, the settings."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import ssl
from typing import Final, Literal

import attrs

from ..errors import ValidationError
from ..validation import validate_configuration_set_name, validate_tenant_name

__all__ = ["STARTTLS_PORTS", "IMPLICIT_TLS_PORTS", "TlsMode", "smtp_password", "smtp_host", "SmtpSettings"]

STARTTLS_PORTS: Final = frozenset({25, 587, 2587})
"""SES's SMTP ports that start in plain text and upgrade with STARTTLS."""
IMPLICIT_TLS_PORTS: Final = frozenset({465, 2465})
"""SES's SMTP ports that speak TLS from the first byte ("SMTPS")."""

TlsMode = Literal["starttls", "implicit"]


def smtp_password(secret_access_key: str, region: str) -> str:
    """The SES SMTP password for an IAM user's secret access key in ``region``.

    SES derives it with a fixed-date SigV4-style chain: HMAC-SHA256 of ``"11111111"`` under
    ``"AWS4" + secret``, then over the region, ``"ses"``, ``"aws4_request"`` and ``"SendRawEmail"``; the
    password is the base64 of a version byte ``0x04`` followed by that key (44 characters). The SMTP user
    name is the access key id. Use long-term IAM user keys: temporary (session) credentials do not work for
    SMTP.
    """
    if not secret_access_key:
        raise ValidationError("secret_access_key", "is empty: pass the IAM user's secret access key")
    if not region or not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d+", region):
        raise ValidationError("region", f"{region!r} is not an AWS region name: pass one such as 'us-east-1'")
    key = hmac.digest(("AWS4" + secret_access_key).encode("utf-8"), b"11111111", hashlib.sha256)
    for part in (region, "ses", "aws4_request", "SendRawEmail"):
        key = hmac.digest(key, part.encode("utf-8"), hashlib.sha256)
    return base64.b64encode(b"\x04" + key).decode("ascii")


def smtp_host(region: str) -> str:
    """SES's SMTP endpoint for ``region``: ``email-smtp.<region>.amazonaws.com``."""
    return f"email-smtp.{region}.amazonaws.com"


@attrs.frozen
class SmtpSettings:
    """Where and how to connect. Build it with ``build``, which fills in SES's defaults."""

    host: str
    port: int
    tls: TlsMode
    username: str | None = attrs.field(default=None, repr=False)
    password: str | None = attrs.field(default=None, repr=False)
    ssl_context: ssl.SSLContext | None = attrs.field(default=None, repr=False)
    timeout: float = 30.0
    local_hostname: str | None = None
    configuration_set: str | None = None
    allow_no_configuration_set: bool = False
    tenant: str | None = None

    @classmethod
    def build(
        cls,
        host: str | None = None,
        port: int = 587,
        *,
        region: str | None = None,
        tls: TlsMode | None = None,
        username: str | None = None,
        password: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        timeout: float = 30.0,
        local_hostname: str | None = None,
        configuration_set: str | None = None,
        allow_no_configuration_set: bool = False,
        tenant: str | None = None,
    ) -> SmtpSettings:
        """Check the options and fill in defaults: the host from the region (or ``AWS_REGION`` /
        ``AWS_DEFAULT_REGION``), the TLS mode from the port (465 and 2465 implicit, others STARTTLS)."""
        if host is None:
            region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
            if not region:
                raise ValidationError(
                    "host", "no SMTP host: pass host='email-smtp.<region>.amazonaws.com' or region='<region>'"
                )
            host = smtp_host(region)
        if not 0 < port < 65536:
            raise ValidationError(
                "port", f"{port} is not a TCP port: SES listens on 25, 587, 2587, 465, 2465"
            )
        if tls is None:
            tls = "implicit" if port in IMPLICIT_TLS_PORTS else "starttls"
        elif tls not in ("starttls", "implicit"):
            raise ValidationError("tls", f"{tls!r} is not a TLS mode: use 'starttls' or 'implicit'")
        elif tls == "implicit" and port in STARTTLS_PORTS:
            raise ValidationError(
                "tls", f"port {port} speaks STARTTLS: use tls='starttls', or port 465 or 2465"
            )
        elif tls == "starttls" and port in IMPLICIT_TLS_PORTS:
            raise ValidationError("tls", f"port {port} speaks implicit TLS: use tls='implicit', or port 587")
        if (username is None) != (password is None):
            raise ValidationError(
                "password" if password is None else "username",
                "give both username and password (the access key id and smtp_password(secret, region)), "
                "or neither",
            )
        if timeout <= 0:
            raise ValidationError("timeout", f"must be a positive number of seconds, not {timeout!r}")
        if configuration_set is not None:
            validate_configuration_set_name(configuration_set)
        if tenant is not None:
            validate_tenant_name(tenant)
        return cls(
            host=host,
            port=port,
            tls=tls,
            username=username,
            password=password,
            ssl_context=ssl_context,
            timeout=timeout,
            local_hostname=local_hostname,
            configuration_set=configuration_set,
            allow_no_configuration_set=allow_no_configuration_set,
            tenant=tenant,
        )

    def tls_context(self) -> ssl.SSLContext:
        """The context to verify the server with: the caller's, or the system's default trust store."""
        return self.ssl_context if self.ssl_context is not None else ssl.create_default_context()
