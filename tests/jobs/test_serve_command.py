"""``flask serve`` (``make run``): the web server and the worker start and stop together."""

from __future__ import annotations

import sys
import threading

from consentmgr.cli.serve import supervise

STAYS = [sys.executable, "-c", "import time; time.sleep(600)"]


def test_when_one_process_exits_the_other_is_stopped_and_its_code_returned():
    assert supervise([STAYS, [sys.executable, "-c", "raise SystemExit(3)"]], grace=30) == 3


def test_a_stop_ends_every_process():
    stop = threading.Event()
    stop.set()

    assert supervise([STAYS, STAYS], stop=stop, grace=30) == 0


def test_serve_is_a_command(app):
    assert "serve" in app.cli.commands and "worker" in app.cli.commands
