"""How much a request may send: body size for every route, JSON nesting for the API.

Configuration (``app.config``, set from ``CONSENTMGR_<NAME>``):
``FORM_MAX_CONTENT_LENGTH`` (default 64 KiB) is the app-wide
``MAX_CONTENT_LENGTH``: the pages' forms hold a few lines of text. The API
raises its own limit per request (``API_MAX_CONTENT_LENGTH``, 1 MiB). A body
over the limit is refused from its ``Content-Length`` before it is read
(413: a page, or problem+json under ``/api``); a chunked body is cut off
as soon as it passes the limit.

JSON nesting: Python's parser recurses once per level and fails with
``RecursionError`` (a 500) at about a thousand. No request here needs more
than a few levels, so :func:`check_json_depth` refuses bodies deeper than
:data:`MAX_JSON_DEPTH` before they are parsed.
"""

from __future__ import annotations

import re

from flask import Flask

from consentmgr.errors import DomainError

DEFAULT_FORM_MAX_CONTENT_LENGTH = 64 * 1024
# Werkzeug's multipart parser: how many fields, and how much of them in memory.
MAX_FORM_PARTS = 256
MAX_JSON_DEPTH = 32

# Every byte but a bracket; braces made brackets (depth is depth, whichever kind).
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_SQUARE = bytes.maketrans(b"{}", b"[]")
_STRING = re.compile(rb'"[^"]*"')


class JsonTooDeep(DomainError):
    """The JSON body nests arrays and objects deeper than the API accepts."""

    status = 400
    title = "Malformed request"

    def __init__(self, limit: int) -> None:
        super().__init__(f"The JSON body is nested more than {limit} levels deep.")


def json_depth_exceeds(data: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when ``data`` (JSON text) opens more than ``limit`` arrays/objects inside each other.

    No recursion and no loop over the body in Python (a 1 MiB body of
    brackets is ~100 ms that way): a few passes of C-level bytes methods.
    Brackets inside strings do not count. For a body that is not JSON the
    answer errs towards True (the parser would refuse it anyway).
    """
    if data.count(b"[") + data.count(b"{") <= limit:
        return False  # cannot be deeper than it has brackets (the usual body)
    # Without its escape pairs (\\ and \"), every quote left opens or closes a string.
    unescaped = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    brackets = _STRING.sub(b"", unescaped).translate(_SQUARE, _NOT_BRACKETS)
    too_deep = b"[" * (limit + 1)  # the usual attack, [[[[..., is found in one search
    # Each pass takes away the innermost pairs, one level of nesting; a body
    # no deeper than the limit is gone after ``limit`` passes.
    for _ in range(limit):
        if too_deep in brackets:
            return True
        shallower = brackets.replace(b"[]", b"")
        if len(shallower) == len(brackets):
            break
        brackets = shallower
    # What is left: deeper nesting, or openers never closed (a parser recurses into those too).
    return b"[]" in brackets or brackets.count(b"[") > limit


def check_json_depth(data: bytes, limit: int = MAX_JSON_DEPTH) -> None:
    """Raise :class:`JsonTooDeep` when ``data`` nests deeper than ``limit``."""
    if json_depth_exceeds(data, limit):
        raise JsonTooDeep(limit)


def init_limits(app: Flask) -> None:
    """Set the app-wide body limits (the API raises its own per request)."""
    form_limit = int(app.config.get("FORM_MAX_CONTENT_LENGTH", DEFAULT_FORM_MAX_CONTENT_LENGTH))
    app.config["MAX_CONTENT_LENGTH"] = form_limit
    app.config["MAX_FORM_MEMORY_SIZE"] = form_limit
    app.config["MAX_FORM_PARTS"] = MAX_FORM_PARTS
