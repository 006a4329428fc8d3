"""``validate_tenant_name``: SES's rule for tenant names (``CreateTenant``'s ``TenantName``: up to 64 ASCII
letters, digits, hyphens and underscores), checked before a name goes into an ``X-SES-TENANT`` header."""

from __future__ import annotations

from typing import Any

import pytest

from sesflow.sending.errors import ValidationError
from sesflow.sending.validation import RESERVED_HEADERS, validate_header, validate_tenant_name


@pytest.mark.parametrize("name", ["a", "acme", "Acme_Corp-2", "t" * 64, "0", "-_-"])
def test_valid_names_are_returned(name: str) -> None:
    assert validate_tenant_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "t" * 65,
        "acme corp",
        "acme.example",
        "acme/tn-1",
        "acmé",
        "\uff41cme",  # a fullwidth a
        "acme\r\nBcc: victim@example.com",
        "acme\n",
        "acme\u2028",
        "acme\x00",
        "\ud800",
        "acme:",
    ],
)
def test_invalid_names_are_refused_naming_the_field(name: str) -> None:
    with pytest.raises(ValidationError) as caught:
        validate_tenant_name(name, field="X-SES-TENANT")
    assert caught.value.field == "X-SES-TENANT"
    assert "tenant name" in str(caught.value)


@pytest.mark.parametrize("name", [None, 7, b"acme", ["acme"], 1.5])
def test_a_name_that_is_not_a_str_is_refused(name: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        validate_tenant_name(name)
    assert caught.value.field == "tenant"
    assert type(name).__name__ in str(caught.value)


def test_the_tenant_header_is_reserved() -> None:
    assert "x-ses-tenant" in RESERVED_HEADERS
    for spelling in ("X-SES-TENANT", "x-ses-tenant", "X-Ses-Tenant"):
        with pytest.raises(ValidationError, match="cannot be set as a custom header"):
            validate_header(spelling, "acme")
