"""Key-ordered listing with prefixes, delimiters and resumable positions.

A page is read from the `(bucket, latest, key)` index a batch at a time; a key that falls under
a common prefix is reported once as that prefix and the walk jumps past every key sharing it
(`successor`), so a page costs O(page) rows however many keys the bucket or the prefix holds.
Keys order by code point, which is UTF-8 byte order, as in S3 (SQLite's BINARY collation).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from sqlalchemy import Connection, and_, or_, select

from portside.protocol.errors import AwsError
from portside.services.s3.model import objects, uploads

MAX_KEYS = 1000
_LAST_CODE_POINT = 0x10FFFF
_SURROGATES = range(0xD800, 0xE000)


def successor(prefix: str) -> str | None:
    """The least string greater than every string that starts with `prefix`; None when there
    is none (the prefix is empty or made only of U+10FFFF)."""
    chars = list(prefix)
    while chars:
        code = ord(chars.pop()) + 1
        if code in _SURROGATES:
            code = _SURROGATES.stop
        if code <= _LAST_CODE_POINT:
            return "".join(chars) + chr(code)
    return None


@dataclass(frozen=True)
class Cursor:
    """Where a listing resumes: keys after `key` (from `key` when `inclusive`); with `tiebreak`,
    first the rest of `key`'s entries (versions older than that row id, uploads after that
    upload id)."""

    key: str
    inclusive: bool = False
    tiebreak: int | str | None = None

    def token(self) -> str:
        body = json.dumps([self.key, self.inclusive, self.tiebreak], separators=(",", ":"))
        return base64.urlsafe_b64encode(body.encode()).decode()


def parse_token(token: str) -> Cursor:
    """A continuation token back into its cursor; InvalidArgument for anything we did not issue."""
    try:
        key, inclusive, tiebreak = json.loads(base64.urlsafe_b64decode(token.encode()))
        if not isinstance(key, str) or not isinstance(inclusive, bool) or not (
                tiebreak is None or isinstance(tiebreak, str)
                or (isinstance(tiebreak, int) and not isinstance(tiebreak, bool))):
            raise ValueError(token)
    except (ValueError, TypeError, binascii.Error, UnicodeError):
        raise AwsError("The continuation token provided is incorrect", code="InvalidArgument",
                       fields={"ArgumentName": "continuation-token",
                               "ArgumentValue": token}) from None
    return Cursor(key, inclusive, tiebreak)


def common_prefix(key: str, prefix: str, delimiter: str | None) -> str | None:
    """The common prefix `key` rolls up into, if any."""
    if not delimiter:
        return None
    at = key.find(delimiter, len(prefix))
    return None if at < 0 else key[:at + len(delimiter)]


def after_marker(marker: str, prefix: str, delimiter: str | None) -> Cursor:
    """ListObjects' Marker (and the key markers of other listings): after that key — and when
    the marker is itself a common prefix a previous page ended with, after all of its keys."""
    if delimiter and common_prefix(marker, prefix, delimiter) == marker and marker.startswith(
            prefix):
        nxt = successor(marker)
        if nxt is not None:
            return Cursor(nxt, inclusive=True)
    return Cursor(marker)


Fetch = Callable[[Cursor | None, int], Sequence[Any]]


@dataclass
class Page:
    entries: list[Any] = field(default_factory=list)  # rows, in listing order
    prefixes: list[str] = field(default_factory=list)
    truncated: bool = False
    last_entry: Any = None  # the row or the prefix listed last
    last_is_prefix: bool = False
    next_cursor: Cursor | None = None


def walk(fetch: Fetch, prefix: str, delimiter: str | None, start: Cursor | None,
         max_items: int, entry_cursor: Callable[[Any], Cursor]) -> Page:
    """Up to `max_items` entries and common prefixes after `start`. `fetch(cursor, n)` returns
    the next n rows under the prefix after the cursor, in order; `entry_cursor(row)` is the
    position just after a row."""
    page = Page()
    if max_items <= 0:
        return page
    cursor = start
    while True:
        want = max_items - len(page.entries) - len(page.prefixes) + 1
        rows = fetch(cursor, want)
        jumped = False
        for row in rows:
            cp = common_prefix(row.key, prefix, delimiter)
            if cp is not None and page.prefixes and page.prefixes[-1] == cp:
                continue
            if len(page.entries) + len(page.prefixes) == max_items:
                page.truncated = True
                return page
            if cp is not None:
                page.prefixes.append(cp)
                page.last_entry, page.last_is_prefix = cp, True
                nxt = successor(cp)
                if nxt is None:
                    return page
                cursor = page.next_cursor = Cursor(nxt, inclusive=True)
                jumped = True
                break
            page.entries.append(row)
            page.last_entry, page.last_is_prefix = row, False
            cursor = page.next_cursor = entry_cursor(row)
        if not jumped and len(rows) < want:
            return page


def prefix_range(column, prefix: str) -> list:
    if not prefix:
        return []
    upper = successor(prefix)
    return [column >= prefix] + ([column < upper] if upper is not None else [])


def after(column, cursor: Cursor | None) -> list:
    if cursor is None:
        return []
    return [column >= cursor.key if cursor.inclusive else column > cursor.key]


def latest_objects(conn: Connection, bucket: str, prefix: str) -> Fetch:
    """Fetch for ListObjects(V2): the current, non-deleted version of each key."""
    t = objects

    def fetch(cursor: Cursor | None, limit: int) -> Sequence[Any]:
        query = select(t).where(t.c.bucket == bucket, t.c.latest.is_(True),
                                t.c.delete_marker.is_(False),
                                *prefix_range(t.c.key, prefix), *after(t.c.key, cursor))
        return conn.execute(query.order_by(t.c.key).limit(limit)).all()

    return fetch


def all_versions(conn: Connection, bucket: str, prefix: str) -> Fetch:
    """Fetch for ListObjectVersions: every version and delete marker, by key, newest first."""
    t = objects

    def fetch(cursor: Cursor | None, limit: int) -> Sequence[Any]:
        where = [t.c.bucket == bucket, *prefix_range(t.c.key, prefix)]
        if cursor is not None and cursor.tiebreak is not None:
            where.append(or_(t.c.key > cursor.key,
                             and_(t.c.key == cursor.key, t.c.id < cursor.tiebreak)))
        else:
            where += after(t.c.key, cursor)
        query = select(t).where(*where).order_by(t.c.key, t.c.id.desc()).limit(limit)
        return conn.execute(query).all()

    return fetch


def pending_uploads(conn: Connection, bucket: str, prefix: str) -> Fetch:
    """Fetch for ListMultipartUploads: uploads by key, then upload id."""
    t = uploads

    def fetch(cursor: Cursor | None, limit: int) -> Sequence[Any]:
        where = [t.c.bucket == bucket, *prefix_range(t.c.key, prefix)]
        if cursor is not None and cursor.tiebreak is not None:
            where.append(or_(t.c.key > cursor.key,
                             and_(t.c.key == cursor.key, t.c.upload_id > cursor.tiebreak)))
        else:
            where += after(t.c.key, cursor)
        query = select(t).where(*where).order_by(t.c.key, t.c.upload_id).limit(limit)
        return conn.execute(query).all()

    return fetch


def encoder(encoding_type: str | None) -> Callable[[str | None], str | None]:
    """EncodingType=url: keys and prefixes URL-encoded in the response (botocore decodes them)."""
    if encoding_type != "url":
        return lambda value: value
    return lambda value: None if value is None else quote(value, safe="/")
