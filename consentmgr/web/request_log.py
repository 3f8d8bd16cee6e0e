"""One JSON line per request on the ``consentmgr.access`` logger, and the request id.

A line holds the time, the request id, the method, the route *template*
(``/portal/sign-in/<token>``, never the path that was asked for), the status
and the duration in milliseconds (until the response starts: a streamed
export goes on after it). Nothing else: query strings, path values,
client addresses and user agents carry sign-in tokens, email addresses and
personal data, and a token read from a log signs its reader in.

It replaces werkzeug's own access log, whose lines carry the raw path and
query (``make run`` serves through werkzeug); under gunicorn the access log
is off (``gunicorn.conf.py``). Lines go to standard error unless the
operator configured a handler for ``consentmgr.access`` first.

The request id is the caller's ``X-Request-ID`` when it looks like one
(8-64 of ``A-Z a-z 0-9 . _ : -``, so it cannot smuggle data or break a log
line), else a fresh one; it is in ``g.request_id`` (audit entries carry it)
and goes back in the response's ``X-Request-ID``.
"""

from __future__ import annotations

import atexit
import datetime as dt
import itertools
import json
import logging
import os
import re
import sys
import threading
import time

from flask import Flask, Response, g, has_request_context, request

from consentmgr.web.outage import is_database_outage

ACCESS_LOGGER = "consentmgr.access"
REQUEST_ID_HEADER = "X-Request-ID"
UNMATCHED = "<unmatched>"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{8,64}")
# Probes hit these every few seconds; a line each would drown the real traffic.
QUIET_ENDPOINTS = frozenset({"health.healthz", "health.readyz"})

access_log = logging.getLogger(ACCESS_LOGGER)


class _RequestIds:
    """Unique request ids without a system call each: a random prefix per process, then a count.

    An id names a request in the logs and the audit trail; it need not be
    unguessable, only unique (``uuid4`` read the kernel's random source on
    every request).
    """

    def __init__(self) -> None:
        self._pid = -1
        self._prefix = ""
        self._count = itertools.count()

    def next(self) -> str:
        if self._pid != os.getpid():  # a forked worker must not repeat its parent's ids
            self._pid, self._prefix, self._count = os.getpid(), os.urandom(8).hex(), itertools.count()
        return f"{self._prefix}{next(self._count):016x}"  # 32 hex digits, like a uuid4


_request_ids = _RequestIds()


def request_id_for(supplied: str | None) -> str:
    """The caller's ``X-Request-ID`` if it looks like one, else a fresh id."""
    return supplied if supplied and _REQUEST_ID.fullmatch(supplied) else _request_ids.next()


def start_request() -> None:
    """``before_request`` (the app's first): the request id and the start time."""
    g.request_id = request_id_for(request.headers.get(REQUEST_ID_HEADER))
    g.request_started = time.perf_counter()


def log_request(response: Response) -> Response:
    """``after_request``: return the request id and write the request's one line."""
    request_id = g.get("request_id") or _request_ids.next()  # a request refused before the hooks
    response.headers[REQUEST_ID_HEADER] = request_id
    if request.endpoint in QUIET_ENDPOINTS:
        return response
    write_line(request_id, request.method,
               request.url_rule.rule if request.url_rule is not None else UNMATCHED,
               response.status_code, g.get("request_started"))
    return response


def write_line(request_id: str, method: str, route: str, status: int,
               started: float | None) -> None:
    """The request's one line; ``started`` is its ``time.perf_counter()`` at the start."""
    duration = (time.perf_counter() - started) * 1000 if started is not None else None
    line = json.dumps({
        "time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds"),
        "request_id": request_id,
        "method": method,
        "route": route,
        "status": status,
        "duration_ms": round(duration, 2) if duration is not None else None,
    }, separators=(",", ":"))
    handlers = access_log.handlers
    if len(handlers) == 1 and isinstance(handlers[0], BatchedStandardError) \
            and access_log.isEnabledFor(logging.INFO):
        # Our own handler alone: queue the line without building a log
        # record (the consent check's hot path). Any other handler, such as
        # one an operator configured, gets the record as usual.
        handlers[0].enqueue(line)
    else:
        access_log.info(line)


class BatchedStandardError(logging.Handler):
    """Writes lines to ``sys.stderr`` in batches: one ``write`` per many requests.

    One ``write`` per request is a system call on the request's path (a
    tenth of the consent check's throughput, measured). Lines are queued
    and written together once :data:`BATCH_LINES` have gathered, or by a
    daemon thread every :data:`FLUSH_SECONDS`, and at exit: a line reaches
    the log at most a quarter of a second late. ``sys.stderr`` is looked up
    at each write, so test runners that swap it still get the lines.
    """

    BATCH_LINES = 64
    FLUSH_SECONDS = 0.25

    def __init__(self) -> None:
        super().__init__()
        self._lines: list[str] = []
        self._flusher_pid: int | None = None
        atexit.register(self.flush)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:  # noqa: BLE001 - logging must never fail the request
            self.handleError(record)
            return
        self.enqueue(line)

    def enqueue(self, line: str) -> None:
        """Queue one formatted line."""
        with self.lock:
            self._lines.append(line)
            if self._flusher_pid != os.getpid():  # first line, or first after a fork (gunicorn)
                self._flusher_pid = os.getpid()
                threading.Thread(target=self._flush_forever, name="access-log",
                                 daemon=True).start()
            if len(self._lines) >= self.BATCH_LINES:
                self._write()

    def _flush_forever(self) -> None:
        while True:
            time.sleep(self.FLUSH_SECONDS)
            self.flush()

    def flush(self) -> None:
        """Write every queued line now."""
        with self.lock:
            self._write()

    def _write(self) -> None:
        if self._lines:
            batch, self._lines = self._lines, []
            stream = sys.stderr
            stream.write("\n".join(batch) + "\n")
            stream.flush()


class WithoutWerkzeugRequestLines(logging.Filter):
    """Drop the dev server's request lines (raw paths: tokens, ``?email=``); ours replace them.

    Its error lines (a malformed request refused before the app saw it)
    quote the request line and the client's address: kept, without either.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.msg if isinstance(record.msg, str) else ""
        if " - - [" not in message:
            return True  # start-up banners and the like
        if record.levelno < logging.WARNING:
            return False
        record.msg, record.args = "request refused by the server before the application", ()
        return True


class WithoutRawPathInFlaskErrors(logging.Filter):
    """Flask's own "Exception on <path> [<method>]" line names the raw path: name the route.

    Flask writes it for an error raised outside the views (opening the
    session, say), and the path can hold a sign-in token. A database outage
    is left out altogether, here and when Flask fails to finish a response:
    the 503 handler writes one short line of its own.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.msg if isinstance(record.msg, str) else ""
        error = record.exc_info[1] if record.exc_info else None
        if error is not None and is_database_outage(error):
            return not message.startswith(("Exception on ", "Request finalizing failed"))
        if not message.startswith("Exception on ") or not has_request_context():
            return True
        route = request.url_rule.rule if request.url_rule is not None else UNMATCHED
        record.msg, record.args = "unhandled exception during %s %s", (request.method, route)
        return True


def configure_access_log() -> None:
    """Give ``consentmgr.access`` a bare-JSON handler on stderr, unless one is configured."""
    if not access_log.handlers:
        handler = BatchedStandardError()
        handler.setFormatter(logging.Formatter("%(message)s"))
        access_log.addHandler(handler)
        access_log.propagate = False  # not again through Flask's "[time] INFO in ..." handler
    if access_log.level == logging.NOTSET:
        access_log.setLevel(logging.INFO)
    werkzeug = logging.getLogger("werkzeug")
    if not any(isinstance(f, WithoutWerkzeugRequestLines) for f in werkzeug.filters):
        werkzeug.addFilter(WithoutWerkzeugRequestLines())


def init_request_log(app: Flask) -> None:
    """Register the hooks; call first in ``create_app`` so every request gets an id."""
    configure_access_log()
    if not any(isinstance(f, WithoutRawPathInFlaskErrors) for f in app.logger.filters):
        app.logger.addFilter(WithoutRawPathInFlaskErrors())
    app.before_request(start_request)
    app.after_request(log_request)
