"""The HTML report: self-contained, and rendered by headless Chromium into a picture that is not blank."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib
from datetime import date
from pathlib import Path

import pytest

from sesflow.analytics import LakeWriter, build_report
from sesflow.analytics.render import format_rate, funnel_svg, rate_chart_svg
from sesflow.testing import make_record

from ._analytics import write_known_lake

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
WIDTH, HEIGHT = 1200, 1600


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> str:
    lake = write_known_lake(tmp_path_factory.mktemp("html"))
    report = build_report(
        lake, since=date(2026, 3, 1), until=date(2026, 3, 5), by="configuration-set", engine="python"
    )
    return report.to_html()


def test_the_page_is_self_contained(page: str) -> None:
    assert page.startswith("<!DOCTYPE html>")
    assert "<script" not in page.lower()
    assert "<link" not in page.lower()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page, re.IGNORECASE)
    assert "@import" not in page
    assert "url(" not in page
    assert page.count("<svg") == 4  # the funnel, two daily rate charts, the daily volume


def test_the_page_says_what_matters(page: str) -> None:
    assert "5.26%" in page  # the bounce rate: 1 of 19
    assert "AWS may place the account under review" in page
    assert "AWS may pause the account" in page  # complaint rate 1/19 is far above 0.5%
    for key in ("transactional", "marketing", "(none)"):
        assert f">{key}</td>" in page
    assert "review 5%" in page
    assert "pause 10%" in page
    assert "review 0.1%" in page
    assert "pause 0.5%" in page
    assert "Monitoring your sender reputation" in page


def test_user_text_is_escaped(tmp_path: Path) -> None:
    with LakeWriter(tmp_path) as writer:
        writer.write(make_record("Send", configuration_set="<script>alert(1)</script>"))
    page = build_report(tmp_path, by="configuration-set").to_html()
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_charts_handle_empty_and_extreme_data() -> None:
    from sesflow.analytics import Metrics

    empty = funnel_svg(Metrics())
    assert empty.startswith("<svg")
    assert "Sent" in empty
    chart = rate_chart_svg("Bounce", ["2026-01-01", "2026-01-02", "2026-01-03"], [None, 0.5, None], 0.05, 0.1)
    assert "pt-bad" in chart
    assert "polyline" not in chart
    nothing = rate_chart_svg("Bounce", [], [], 0.05, 0.1)
    assert "no mail sent" in nothing
    assert format_rate(None) == "\u2013"
    assert format_rate(0.0008) == "0.080%"
    assert format_rate(0.0526) == "5.26%"
    assert format_rate(1.0) == "100%"


# --- rendering in Chromium ----------------------------------------------------------------------------------


def decode_png(data: bytes, rows: int) -> tuple[int, int, list[list[bytes]]]:
    """Width, height and the first ``rows`` rows of RGB pixels of an 8-bit, non-interlaced PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, chunks = 8, []
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert (depth, interlace) == (8, 0)
            assert color in (2, 6)
        elif kind == b"IDAT":
            chunks.append(body)
        pos += 12 + length
    bpp = 3 if color == 2 else 4
    stride = width * bpp
    raw = zlib.decompress(b"".join(chunks))
    assert len(raw) == height * (stride + 1)
    previous = bytearray(stride)
    out = []
    for r in range(min(rows, height)):
        kind = raw[r * (stride + 1)]
        line = bytearray(raw[r * (stride + 1) + 1 : (r + 1) * (stride + 1)])
        for i in range(stride):  # undo the row's PNG filter
            a = line[i - bpp] if i >= bpp else 0
            b = previous[i]
            if kind == 1:
                line[i] = (line[i] + a) & 255
            elif kind == 2:
                line[i] = (line[i] + b) & 255
            elif kind == 3:
                line[i] = (line[i] + ((a + b) >> 1)) & 255
            elif kind == 4:
                c = previous[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        out.append(bytes(line))
        previous = line
    return width, height, [[row[i : i + 3] for i in range(0, stride, bpp)] for row in out]


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")
def test_chromium_renders_the_report(page: str, tmp_path: Path) -> None:
    html = tmp_path / "report.html"
    html.write_text(page, encoding="utf-8")
    png = tmp_path / "report.png"
    assert CHROMIUM is not None
    subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={png}",
            f"--window-size={WIDTH},{HEIGHT}",
            html.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    # The top of the page (header, headline figures, funnel) is decoded and looked at.
    width, height, rows = decode_png(png.read_bytes(), rows=700)
    assert (width, height) == (WIDTH, HEIGHT)
    pixels = [pixel for row in rows[::3] for pixel in row[::3]]
    colors = set(pixels)
    assert len(colors) > 40, "the screenshot is (nearly) blank"
    background = bytes((0xF3, 0xF5, 0xF8))
    assert pixels.count(background) > len(pixels) // 5  # the page's own background colour
    funnel_blue = bytes((0x1D, 0x4E, 0xD8))
    assert funnel_blue in colors  # the first bar of the funnel was drawn
    assert bytes((0xFF, 0xFF, 0xFF)) in colors  # the white cards
