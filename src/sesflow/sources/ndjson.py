"""Firehose output: NDJSON objects (optionally gzip) in S3 or on disk, streamed record by record.

Memory stays constant whatever the object's size: the stream is read in 64 KiB chunks, gzip is inflated in
bounded steps, and only the current line is held. Firehose writes SES events one per line; records written
back to back without newlines (``{...}{...}``) are split too, and a run of more than 1 MiB without a newline
is split as it arrives, so such objects are read in a few MiB as well. A run of more than 16 MiB without a
newline in which no record can be found is reported as an error item and skipped, which bounds memory for
any input.
"""

from __future__ import annotations

import json
import os
import re
import zlib
from collections.abc import Iterable, Iterator
from typing import IO, Any, Final

from ..errors import ParseError, SourceError
from ..events import load_json
from ._common import error_item, parsed_item
from ._item import SourceItem, Transport

__all__ = ["iter_ndjson", "iter_s3_object", "iter_s3_prefix"]

_CHUNK: Final = 64 * 1024
_PEEL_AT: Final = 1024 * 1024  # a line longer than this is split into its JSON objects as it arrives
_GZIP_MAGIC: Final = b"\x1f\x8b"
_GZIP_WBITS: Final = 16 + zlib.MAX_WBITS
_MAX_RECORD: Final = 1024 * 1024  # Firehose's own limit is 1,000 KiB per record
_SALVAGE_BUDGET: Final = 32 * _MAX_RECORD  # bytes re-parsed at most to find a record after a broken one
_FAST_DECODE_MAX: Final = 64 * 1024
_MAX_RUN: Final = 16 * _MAX_RECORD  # a run without a newline or a record in it is reported past this
_OVERSIZE: Final = object()
_SPACE: Final = re.compile(rb"[ \t\n\r]*")
_BOUNDARY: Final = re.compile(rb"\}[ \t\n\r]*\{")
_OPEN_BRACE: Final = ord("{")
_BLANK: Final = b" \t\r\n"


class _StreamError(Exception):
    """The byte stream itself is broken (corrupt or truncated gzip); nothing after this point is readable."""


def _read_chunks(stream: IO[bytes]) -> Iterator[bytes]:
    read = stream.read
    while chunk := read(_CHUNK):
        yield chunk


def _gunzip(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Inflate gzip (several members back to back too) producing at most ``_CHUNK`` bytes per step."""
    inflater = zlib.decompressobj(_GZIP_WBITS)
    try:
        for chunk in chunks:
            data = chunk
            while data:
                if inflater.eof:  # the previous member ended: the rest is another gzip member
                    inflater = zlib.decompressobj(_GZIP_WBITS)
                out = inflater.decompress(data, _CHUNK)
                if out:
                    yield out
                while not inflater.eof and not inflater.unconsumed_tail and len(out) == _CHUNK:
                    out = inflater.decompress(b"", _CHUNK)  # output held back by the bound
                    if out:
                        yield out
                data = inflater.unused_data if inflater.eof else inflater.unconsumed_tail
        if not inflater.eof:
            rest = inflater.flush()
            if rest:
                yield rest
            raise _StreamError("the gzip data ends before its end marker: the object is truncated")
    except zlib.error as exc:
        raise _StreamError(f"the gzip data is corrupt ({exc})") from None


def _decoded_chunks(stream: IO[bytes]) -> Iterator[bytes]:
    """The stream's bytes, inflated when they start with the gzip magic bytes."""
    chunks = _read_chunks(stream)
    head = b""
    for chunk in chunks:
        head += chunk
        if len(head) >= len(_GZIP_MAGIC):
            break
    if not head.startswith(_GZIP_MAGIC):
        if head:
            yield head
        yield from chunks
        return
    yield from _gunzip(_prepend(head, chunks))


def _prepend(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest


class _Objects:
    """The JSON objects written back to back in ``data`` (``{...}{...}``, whitespace allowed between them).

    Iterating yields ``(segment, decoded)``; ``decoded`` is None for a segment that is not a valid object.
    Boundaries are found at ``}`` + optional whitespace + ``{``, which valid JSON only contains inside a
    string; a candidate cut inside a string leaves an unterminated string, so it never parses and the next
    candidate is tried. A segment that does not parse within ``_MAX_RECORD`` bytes is given up on (see
    ``_salvage`` for the record that follows a broken one) and reading resumes at its first boundary,
    so one broken record cannot stall the rest.

    With ``final`` false (``data`` is the start of a longer line), iteration stops before the last object,
    which may be incomplete; ``rest`` is then the offset where unconsumed data starts. With ``final`` true
    (``data`` is a whole line), everything is yielded, the tail included.
    """

    def __init__(self, data: bytes, *, final: bool) -> None:
        self.data = data
        self.final = final
        self.rest = 0

    def __iter__(self) -> Iterator[tuple[bytes, Any]]:
        data = self.data
        start = _skip_space(data, 0)
        self.rest = start
        while start < len(data):
            if data[start] != _OPEN_BRACE:  # not an object
                if self.final:  # a whole line's rest: bad, or bad then one object
                    yield from _salvage(data, start, len(data))
                    self.rest = len(data)
                    return
                brace = data.find(b"{", start)
                if brace < 0:
                    return
                yield data[start:brace], None  # junk before the next object
                start = self.rest = brace
                continue
            first_cut: re.Match[bytes] | None = None
            search = start
            resume = -1
            while (cut := _BOUNDARY.search(data, search)) is not None:
                end = cut.start() + 1
                value = _load_object(data[start:end])
                if value is not None:
                    yield data[start:end], value
                    resume = cut.end() - 1
                    break
                if first_cut is None:
                    first_cut = cut
                if end - start > _MAX_RECORD:  # give up on this record: resume after its first boundary
                    yield from _salvage(data, start, first_cut.start() + 1)
                    resume = first_cut.end() - 1
                    break
                search = cut.start() + 1
            if resume < 0:  # no boundary left: what remains is the last object
                if not self.final:
                    return
                if first_cut is None:
                    yield from _salvage(data, start, len(data))
                    self.rest = len(data)
                    return
                value = _load_object(data[start:])
                if value is not None:
                    yield data[start:], value
                    self.rest = len(data)
                    return
                # A whole line whose tail is broken: give up on the part up to its first boundary.
                yield from _salvage(data, start, first_cut.start() + 1)
                resume = first_cut.end() - 1
            start = self.rest = resume


def _salvage(data: bytes, start: int, end: int) -> Iterator[tuple[bytes, Any]]:
    """``data[start:end]`` as one object if it is one; else its bad front and the object that ends it, if any.

    A record cut short (a truncated write) runs into the next record with no ``}{`` between them. The next
    record is the rightmost ``{`` from which the span to ``end`` parses: a ``{`` inside it leaves its closing
    braces unbalanced, so searching from the right finds its start first. The search is bounded by
    ``_SALVAGE_BUDGET`` bytes, so hostile input cannot make it slow.
    """
    segment = data[start:end]
    value = _load_object(segment)
    if value is not None:
        yield segment, value
        return
    budget = _SALVAGE_BUDGET
    pos = data.rfind(b"{", start + 1, end)
    while pos > start and budget > 0:
        value = _load_object(data[pos:end])
        if value is not None:
            yield data[start:pos], None
            yield data[pos:end], value
            return
        budget -= end - pos
        pos = data.rfind(b"{", start + 1, pos)
    yield segment, None


def _skip_space(data: bytes, pos: int) -> int:
    space = _SPACE.match(data, pos)
    assert space is not None  # the pattern matches the empty string
    return space.end()


def _load_object(segment: bytes) -> Any:
    """The decoded JSON object, or None when ``segment`` is not exactly one JSON object.

    Long segments go through the standard library's decoder: orjson's error path briefly takes about twelve
    times the input's size, and long segments are the ones that tend to fail (a candidate cut too early).
    """
    try:
        value = load_json(segment) if len(segment) < _FAST_DECODE_MAX else json.loads(segment)
    except (ValueError, RecursionError):
        return None
    return value if type(value) is dict else None


class _Lines:
    """Splits a chunk stream into lines; a long run without a newline is split into its JSON objects early.

    Yields ``(line number, data, decoded, peeled)``: a whole line (``peeled`` false, ``decoded`` None), or a
    segment taken off the front of a long line (``peeled`` true; ``decoded`` is its object, None when the
    segment is not valid JSON, or ``_OVERSIZE`` for a run of more than ``_MAX_RUN`` bytes with no record in
    it). ``pending()`` is what was read of the current line, for a stream that breaks.
    """

    def __init__(self) -> None:
        self.line = 1
        self._parts: list[bytes] = []
        self._size = 0

    def pending(self) -> bytes:
        return b"".join(self._parts)

    def split(self, chunks: Iterable[bytes]) -> Iterator[tuple[int, bytes, Any, bool]]:
        peel_at = _PEEL_AT
        for chunk in chunks:
            pieces = chunk.split(b"\n")
            if len(pieces) > 1:
                first = pieces[0]
                if self._parts:
                    first = b"".join(self._parts) + first
                    self._parts = []
                yield self.line, first, None, False
                self.line += 1
                for piece in pieces[1:-1]:
                    yield self.line, piece, None, False
                    self.line += 1
                last = pieces[-1]
                self._parts = [last] if last else []
                self._size = len(last)
                peel_at = _PEEL_AT
            else:
                self._parts.append(chunk)
                self._size += len(chunk)
            if self._size >= peel_at or self._size > _MAX_RUN:
                buffered = b"".join(self._parts)
                self._parts = [buffered]  # drop the chunks: one copy of the run is enough
                objects = _Objects(buffered, final=False)
                for segment, value in objects:
                    yield self.line, segment, value, True
                rest = buffered[objects.rest :]
                del buffered
                if len(rest) > _MAX_RUN:  # no record can be this long: report the run and go on
                    yield self.line, rest, _OVERSIZE, True
                    rest = b""
                self._parts = [rest] if rest else []
                self._size = len(rest)
                peel_at = max(_PEEL_AT, 2 * self._size)  # grow, so a long bad run is not rescanned per chunk
        if self._parts:
            yield self.line, self.pending(), None, False
            self._parts = []


def _file_item(name: str, line: int, item_id: str, data: bytes, payload: Any) -> SourceItem:
    return parsed_item(Transport.FILE, item_id, data, payload, meta={"object": name, "line": line})


def _segment_item(name: str, line: int, item_id: str, data: bytes, value: Any) -> SourceItem:
    """The item of a line or segment, given its decoded object (None: not one; ``_OVERSIZE``: too long)."""
    if value is not None and value is not _OVERSIZE:
        return _file_item(name, line, item_id, data, value)
    if len(data) < _FAST_DECODE_MAX:  # let the parser say exactly what is wrong
        return _file_item(name, line, item_id, data, data)
    error: ParseError | SourceError
    if value is _OVERSIZE:
        error = SourceError(
            f"{len(data)} bytes without a newline hold no readable record (Firehose records are at most "
            "1,000 KiB); they are reported here whole and reading goes on after them",
            raw=data,
        )
    else:
        try:
            decoded = json.loads(data)
        except (ValueError, RecursionError) as exc:
            error = ParseError(f"invalid JSON: {exc}", raw=data)
        else:
            error = ParseError(f"expected a JSON object, got {type(decoded).__name__}", raw=data)
    return error_item(Transport.FILE, item_id, data, error, meta={"object": name, "line": line})


def _line_items(name: str, line: int, data: bytes, first: int) -> Iterator[SourceItem]:
    """The items of one line; ``first`` counts the objects already taken off its front."""
    if not data.strip(_BLANK):
        return
    if first == 0:
        value = _load_object(data)
        if value is not None:  # the usual case: one record on the line
            yield _file_item(name, line, f"{name}:{line}", data, value)
            return
    number = first
    held: tuple[bytes, Any] | None = None  # one segment of look-ahead: a lone segment keeps the plain id
    for segment in _Objects(data, final=True):
        if held is not None:
            yield _segment_item(name, line, f"{name}:{line}:{number}", *held)
        held = segment
        number += 1
    if held is None:
        return
    if number == 1:  # the line is one segment that is not a record: report the line as it was
        yield _segment_item(name, line, f"{name}:{line}", data, held[1])
    else:
        yield _segment_item(name, line, f"{name}:{line}:{number}", *held)


def _stream_items(stream: IO[bytes], name: str) -> Iterator[SourceItem]:
    lines = _Lines()
    taken = 0  # objects already taken off the front of the current line
    current = 0
    try:
        for line, data, value, peeled in lines.split(_decoded_chunks(stream)):
            if line != current:
                current, taken = line, 0
            if peeled:
                taken += 1
                yield _segment_item(name, line, f"{name}:{line}:{taken}", data, value)
            else:
                yield from _line_items(name, line, data, taken)
    except _StreamError as exc:
        raw = lines.pending()
        reason = f"{name} cannot be read past line {lines.line - 1}: {exc}"
        yield error_item(
            Transport.FILE,
            f"{name}:{lines.line}",
            raw,
            SourceError(reason, raw=raw),
            meta={"object": name, "line": lines.line},
        )


def iter_ndjson(
    source: str | os.PathLike[str] | IO[bytes], *, name: str | None = None
) -> Iterator[SourceItem]:
    """Stream the SES records of an NDJSON object as Firehose writes it: a path, or a binary file object.

    gzip is detected by its magic bytes (not the file name); blank lines are skipped. ``item_id`` is
    ``"<name>:<line>"`` (1-based line number; ``name`` defaults to the path, or the file object's ``name``,
    else ``"<stream>"``). A line holding several JSON objects back to back gives ``"<name>:<line>:<n>"`` for
    its n-th object; a file with no newlines at all is one such line, still read with constant memory.
    ``raw`` is the line (or object) as bytes; ``meta`` has ``object`` (the name) and ``line``.

    Every bad line is an item with a ``ParseError``; a record cut short is reported and
    the record after it recovered. A corrupt or truncated gzip stream ends with one item carrying a
    ``SourceError`` and the partial line. A run of over 16 MiB without a newline that
    holds no record (Firehose records are at most 1,000 KiB) is reported as error items and reading goes on.
    A file object passed in is not closed; a path is opened and closed here. Errors opening or reading the
    file (OSError) propagate.
    """
    if isinstance(source, str | os.PathLike):
        path = os.fspath(source)
        with open(path, "rb") as stream:
            yield from _stream_items(stream, name or path)
        return
    if name is None:
        stream_name = getattr(source, "name", None)
        name = stream_name if isinstance(stream_name, str) else "<stream>"
    yield from _stream_items(source, name)


def iter_s3_object(s3_client: Any, bucket: str, key: str) -> Iterator[SourceItem]:
    """Stream the SES records of one S3 object written by Firehose (NDJSON, optionally gzip).

    ``s3_client`` is a boto3 S3 client; the body is read in chunks from ``get_object``'s ``StreamingBody``,
    never whole, and closed when the iteration ends (or is abandoned). ``item_id`` is
    ``"s3://<bucket>/<key>:<line>"``; otherwise as ``iter_ndjson``. S3 errors (``NoSuchKey``, access)
    propagate from the first ``next()``.
    """
    response = s3_client.get_object(Bucket=bucket, Key=key)
    body = response["Body"]
    try:
        yield from _stream_items(body, f"s3://{bucket}/{key}")
    finally:
        body.close()


def iter_s3_prefix(s3_client: Any, bucket: str, prefix: str) -> Iterator[SourceItem]:
    """Stream the records of every object under ``prefix``, object after object in key order.

    Firehose's date-based keys (``.../year=YYYY/month=MM/day=DD/...``) make key order time order. Keys
    ending in ``/`` (folder markers) are skipped. Listing is paginated, so any number of objects works.
    """
    paginator = s3_client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for entry in page.get("Contents", ()):
            key = entry["Key"]
            if not key.endswith("/"):
                yield from iter_s3_object(s3_client, bucket, key)
