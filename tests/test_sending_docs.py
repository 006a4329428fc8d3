"""docs/sending.md states what the code does: its error table and its link-tag outputs cannot drift."""

from __future__ import annotations

import re
from pathlib import Path

from sesflow import sending
from sesflow.sending import SesError, tag_link

PAGE = (Path(__file__).resolve().parents[1] / "docs" / "sending.md").read_text(encoding="utf-8")


def test_every_ses_error_type_is_in_the_error_table() -> None:
    table = PAGE.split("## Errors", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"`([A-Za-z]+)`", table))
    exported = {
        name
        for name in sending.__all__
        if isinstance(getattr(sending, name), type) and issubclass(getattr(sending, name), SesError)
    }
    exported.discard("SesError")
    assert exported <= documented, exported - documented


def test_link_tag_examples_match_the_code() -> None:
    assert f"# '{tag_link('https://shop.example.com/p/42', 'See it', tags={'product': 'p42'})}'" in PAGE
    assert f"# '{tag_link('https://shop.example.com/account', 'Account', track=False)}'" in PAGE
