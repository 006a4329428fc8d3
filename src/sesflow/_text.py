"""Text from outside (an AWS answer, an emulator's page) made fit for a one-line error message."""

from __future__ import annotations

import re

__all__ = ["one_line"]

_HTML_START = re.compile(r"<!doctype html|<html[\s>]", re.IGNORECASE)
_TITLE = re.compile(r"<title>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_SPACE = re.compile(r"\s+")


def one_line(text: str, limit: int = 300) -> str:
    """``text`` on one line, at most about ``limit`` characters.

    An HTML page inside it (what a web server that is not the AWS API answers, such as a local emulator
    lacking an operation) is replaced by its title: an error message says what came back, not the page.
    """
    page = _HTML_START.search(text)
    if page is not None:
        title = _TITLE.search(text, page.start())
        what = f"an HTML page ({_SPACE.sub(' ', title.group(1)).strip()!r})" if title else "an HTML page"
        text = f"{text[: page.start()].rstrip()} {what} instead of an AWS API answer".strip()
    text = _SPACE.sub(" ", text).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
