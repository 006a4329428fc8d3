"""How the commands lay text out, so that every one reads well at 80 columns (and when piped).

Two rules. Anything a reader may copy (JSON documents, ARNs, names, commands) is printed whole: never cut,
folded or padded by rich; a line longer than the terminal is left for the terminal to wrap, and copying it
gives it back intact. A table is printed only when every cell fits whole at the console's width; otherwise
each row becomes a short block of labelled lines. Long work shows a spinner on a terminal and nothing when
standard error is piped.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

__all__ = ["activity", "plural", "print_json", "print_line", "print_whole", "progress", "show_table"]

# A table's frame: one bar between columns and at each edge, one space of padding on each side of a cell.
_FRAME_PER_COLUMN = 3


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """``"1 record"``, ``"2 records"`` (``nouns`` for an irregular plural)."""
    return f"{count} {noun if count == 1 else (nouns or noun + 's')}"


def print_whole(out: Console, text: str | Text, *, style: str | None = None) -> None:
    """Print ``text`` as it is: no markup, no wrapping, no cropping (the terminal wraps what is too long)."""
    from rich.text import Text

    out.print(text if isinstance(text, Text) else Text(text, style=style or ""), soft_wrap=True)


def print_json(out: Console, document: Any) -> None:
    """A JSON document, indented, highlighted on a terminal, and valid as printed (nothing cut)."""
    import json

    from rich.highlighter import JSONHighlighter
    from rich.text import Text

    print_whole(out, JSONHighlighter()(Text(json.dumps(document, indent=2))))


def _width(cell: Any) -> int:
    from rich.cells import cell_len
    from rich.text import Text

    text = cell.plain if isinstance(cell, Text) else str(cell)
    return max((cell_len(line) for line in text.splitlines()), default=0)


def _text(cell: Any) -> Text:
    from rich.text import Text

    return cell if isinstance(cell, Text) else Text(str(cell))


def show_table(
    out: Console,
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    title: str | None = None,
    headline: int = 1,
    right: Sequence[str] = (),
    prose: Sequence[str] = (),
    total: bool = False,
) -> None:
    """``rows`` as a table when every cell fits whole in ``out.width``; otherwise as blocks of lines.

    A block starts with the row's first ``headline`` cells on one line (only the first when they do not fit
    together); each other non-empty cell follows on its own indented line, after its header, printed whole.
    ``prose`` names the columns of sentences, which wrap between words under their first line. ``right``
    names the columns aligned right in a table; ``total`` sets the last row apart, as the others' total.
    """
    from rich.table import Table
    from rich.text import Text

    widths = [max([len(h), *(_width(row[i]) for row in rows)]) for i, h in enumerate(headers)]
    if sum(widths) + _FRAME_PER_COLUMN * len(headers) + 1 <= out.width:
        table = Table(title=title)
        for header in headers:
            table.add_column(header, no_wrap=True, justify="right" if header in right else "left")
        for number, row in enumerate(rows, 1):
            if total and number == len(rows):
                table.add_section()
            table.add_row(*row)
        out.print(table)
        return
    if title:
        out.print(Text(title, style="bold"))
    for row in rows:
        cells = [_text(cell) for cell in row]
        head = Text("  ").join(cell for cell in cells[:headline] if cell.plain)
        first = headline if head.cell_len <= out.width else 1
        if first == 1:
            head = cells[0].copy()
        head.stylize("bold", 0, len(cells[0].plain))
        print_whole(out, head)
        rest = [(h, c) for h, c in zip(headers[first:], cells[first:], strict=True) if c.plain]
        label = max((len(h) for h, _ in rest), default=0)
        for header, cell in rest:
            lead = Text(f"  {header:<{label}}  ", style="dim")
            if header not in prose:
                print_whole(out, Text.assemble(lead, cell))
                continue
            for number, words in enumerate(_wrap_words(cell.plain, out.width - lead.cell_len)):
                start = lead if number == 0 else " " * lead.cell_len
                print_whole(out, Text.assemble(start, Text(words, style=cell.style)))


def _wrap_words(text: str, width: int) -> list[str]:
    """``text`` in lines of at most ``width`` cells, broken only between words; a longer word stands whole
    on a line of its own."""
    from rich.cells import cell_len

    lines: list[str] = []
    for word in text.split():
        if lines and cell_len(lines[-1]) + 1 + cell_len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines


@contextlib.contextmanager
def activity(description: str) -> Iterator[None]:
    """A spinner with ``description`` on standard error while the block runs, only on a terminal."""
    from ._console import console

    err = console(stderr=True)
    if not err.is_terminal or err.is_dumb_terminal:
        yield
        return
    with err.status(description):
        yield


def print_line(out: Console, main: Text, *extras: Text, indent: int = 4) -> None:
    """``main``, then each of ``extras`` two spaces after the last while the line has room, else on an
    indented line of its own.

    Every part is printed whole (see ``print_whole``): an address or a link is never cut.
    """
    from rich.text import Text

    line = main.copy()
    for extra in extras:
        if not extra.plain:
            continue
        if line.cell_len + 2 + extra.cell_len <= out.width:
            line.append("  ")
            line.append_text(extra)
        else:
            print_whole(out, line)
            line = Text.assemble(" " * indent, extra)
    print_whole(out, line)


@contextlib.contextmanager
def progress(description: str, total: int, *, failures: bool = False) -> Iterator[Callable[..., None]]:
    """A progress bar on standard error while the block runs, only on a terminal.

    Yields ``update(done, failed=0)``; the bar is removed when the block ends, so the results printed after
    it stand alone.
    """
    from ._console import console

    err = console(stderr=True)
    if not err.is_terminal or err.is_dumb_terminal:
        yield lambda done, failed=0: None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    columns: list[ProgressColumn | str] = [
        TextColumn(f"[bold]{description}"),
        BarColumn(),
        MofNCompleteColumn(),
    ]
    if failures:
        columns.append(TextColumn("{task.fields[failed]} failed"))
    columns.append(TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task(description, total=total, failed=0)

        def update(done: int, failed: int = 0) -> None:
            bar.update(task, completed=done, failed=failed)

        yield update
