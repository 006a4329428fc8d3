"""Link tags for SES click tracking: ``ses:tags`` and ``ses:no-track`` on anchors.

When a configuration set has click tracking, SES rewrites every ``http``/``https`` link of the HTML body so a
click publishes a Click event. Two attributes on an ``<a>`` steer it:

- ``ses:tags="name1:value1;name2:value2;"`` adds ``linkTags`` to that link's Click events (names and values
  follow the message tag rules);
- ``ses:no-track`` leaves that link alone.

SES tracks at most 250 links per message. ``scan_links`` reads what an HTML body asks for,
``check_links`` enforces the rules (``Email`` calls it for its ``html``), ``tag_link`` writes an
anchor, and ``add_link_tags`` tags every tracked anchor of an existing body.
"""

from __future__ import annotations

import html as _html
from collections.abc import Mapping
from html.parser import HTMLParser

import attrs

from .errors import ValidationError
from .validation import MAX_TRACKED_LINKS, validate_tag

__all__ = [
    "Link",
    "LinkScan",
    "link_tags_attribute",
    "parse_link_tags",
    "tag_link",
    "add_link_tags",
    "scan_links",
    "check_links",
]


@attrs.frozen
class Link:
    """One anchor of an HTML body, as click tracking sees it."""

    href: str
    tracked: bool
    """SES rewrites it for click tracking: an http(s) link or template placeholder without ses:no-track."""
    tags_attribute: str | None
    """The raw ``ses:tags`` attribute, if any."""
    offset: int
    """Index of the anchor's ``<`` in the HTML text."""


@attrs.frozen
class LinkScan:
    """Every anchor of an HTML body."""

    links: tuple[Link, ...]

    @property
    def tracked(self) -> int:
        """How many links SES would track."""
        return sum(1 for link in self.links if link.tracked)


def link_tags_attribute(tags: Mapping[str, str]) -> str:
    """The ``ses:tags`` value for ``tags``: ``name1:value1;name2:value2;``."""
    for name, value in tags.items():
        validate_tag(name, value, field="link tags")
    return "".join(f"{name}:{value};" for name, value in tags.items())


def parse_link_tags(value: str, *, field: str = "html") -> dict[str, str]:
    """The tags in a ``ses:tags`` attribute value; raises ``ValidationError`` on a malformed one."""
    tags: dict[str, str] = {}
    for part in value.split(";"):
        part = part.strip()
        if not part:
            continue
        name, sep, tag_value = part.partition(":")
        if not sep:
            raise ValidationError(
                field,
                f'ses:tags entry {part!r} is not name:value: write ses:tags="name1:value1;name2:value2;"',
            )
        validate_tag(name.strip(), tag_value.strip(), field=f"{field} ses:tags")
        tags[name.strip()] = tag_value.strip()
    return tags


def tag_link(
    href: str,
    text: str,
    *,
    tags: Mapping[str, str] | None = None,
    track: bool = True,
    attributes: Mapping[str, str] | None = None,
) -> str:
    """An HTML anchor for ``href`` showing ``text`` (escaped), with link tags or ``ses:no-track``.

    ``tag_link("https://example.com/p/1", "Product", tags={"product": "p1"})`` gives
    ``<a href="https://example.com/p/1" ses:tags="product:p1;">Product</a>``.
    """
    if not track and tags:
        raise ValidationError("tags", "an untracked link (track=False) has no click events to tag")
    parts = [f'<a href="{_html.escape(href, quote=True)}"']
    for name, value in (attributes or {}).items():
        parts.append(f' {name}="{_html.escape(value, quote=True)}"')
    if tags:
        parts.append(f' ses:tags="{_html.escape(link_tags_attribute(tags), quote=True)}"')
    if not track:
        parts.append(" ses:no-track")
    parts.append(f">{_html.escape(text, quote=False)}</a>")
    return "".join(parts)


def add_link_tags(html: str, tags: Mapping[str, str]) -> str:
    """``html`` with ``ses:tags`` added to every tracked anchor that has none (others are left alone)."""
    attribute = f' ses:tags="{_html.escape(link_tags_attribute(tags), quote=True)}"'
    out: list[str] = []
    last = 0
    for link in scan_links(html).links:
        if not link.tracked or link.tags_attribute is not None:
            continue
        insert_at = link.offset + 2  # after "<a"
        out.append(html[last:insert_at])
        out.append(attribute)
        last = insert_at
    out.append(html[last:])
    return "".join(out)


def scan_links(html: str) -> LinkScan:
    """Every anchor of ``html`` with whether SES would track it."""
    if "<a" not in html and "<A" not in html:
        return LinkScan(())
    parser = _AnchorParser(html)
    parser.feed(html)
    parser.close()
    return LinkScan(tuple(parser.links))


def check_links(html: str, *, field: str = "html") -> LinkScan:
    """Scan ``html``; raise if it breaks SES's click-tracking rules (over 250 links, bad ses:tags)."""
    scan = scan_links(html)
    for link in scan.links:
        if link.tags_attribute is not None:
            parse_link_tags(link.tags_attribute, field=field)
    if scan.tracked > MAX_TRACKED_LINKS:
        raise ValidationError(
            field,
            f"{scan.tracked} links would be tracked and SES tracks at most {MAX_TRACKED_LINKS} per message: "
            "mark the rest with ses:no-track (see sesflow.sending.links.tag_link)",
        )
    return scan


def _is_trackable(href: str) -> bool:
    target = href.strip().lower()
    return target.startswith(("http://", "https://")) or target.startswith("{{")


class _AnchorParser(HTMLParser):
    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[Link] = []
        self._line_starts = [0]
        index = text.find("\n")
        while index != -1:
            self._line_starts.append(index + 1)
            index = text.find("\n", index + 1)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "a":
            return
        values = dict(attrs)
        href = values.get("href")
        if href is None:
            return
        line, column = self.getpos()
        offset = self._line_starts[line - 1] + column
        no_track = "ses:no-track" in values
        self.links.append(
            Link(
                href=href,
                tracked=not no_track and _is_trackable(href),
                tags_attribute=values.get("ses:tags"),
                offset=offset,
            )
        )
