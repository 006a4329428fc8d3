"""``smtp_password`` against the vectors SES documents for the AWS example secret key."""

from __future__ import annotations

import base64

import pytest

from sesflow.sending.errors import ValidationError
from sesflow.sending.smtp import smtp_password

EXAMPLE_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@pytest.mark.parametrize(
    ("region", "expected"),
    [
        ("us-east-1", "BLBM/9hSUELfq8Gw+rU1YcBjkOxGbhT2XG763xVLGWL9"),
        ("eu-west-1", "BMW5RDrXmmVs0lV7GpI4oLkHXpZ4stDsk6q91z1g38Pk"),
        ("us-west-2", "BF2PynzbSCAjX08zhZZnP/kW+T9P5zs/1Er0pi5vTEmd"),
    ],
)
def test_documented_vectors(region: str, expected: str) -> None:
    assert smtp_password(EXAMPLE_SECRET, region) == expected


def test_shape_version_byte_and_dependence_on_both_inputs() -> None:
    password = smtp_password(EXAMPLE_SECRET, "ap-southeast-2")
    raw = base64.b64decode(password)
    assert len(password) == 44
    assert raw[0] == 0x04
    assert len(raw) == 33  # the version byte and an HMAC-SHA256
    assert password != smtp_password(EXAMPLE_SECRET + "x", "ap-southeast-2")
    assert password != smtp_password(EXAMPLE_SECRET, "ap-southeast-1")


@pytest.mark.parametrize(
    ("secret", "region", "field"),
    [
        ("", "us-east-1", "secret_access_key"),
        (EXAMPLE_SECRET, "", "region"),
        (EXAMPLE_SECRET, "US-EAST-1", "region"),
        (EXAMPLE_SECRET, "email-smtp.us-east-1.amazonaws.com", "region"),
    ],
)
def test_bad_input_names_the_field(secret: str, region: str, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        smtp_password(secret, region)
    assert caught.value.field == field


def test_the_smtp_api_has_one_import_path() -> None:
    import importlib.util

    import sesflow.sending.smtp as public

    assert public.smtp_password.__module__ == "sesflow.sending.smtp"
    assert "smtp_password" in public.__all__
    assert importlib.util.find_spec("sesflow.smtp") is None  # the old alias module is gone
