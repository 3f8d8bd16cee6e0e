"""``flask serve``: the development web server and a background worker, from one command.

``make run`` uses it. It starts ``flask run`` and ``flask worker`` as child
processes and stops both together: on Ctrl-C or SIGTERM, or as soon as
either one exits (a web server without its worker would queue work that
never runs). In production, run gunicorn and ``flask worker`` under the
service manager instead (README, "Background worker").
"""

from __future__ import annotations

import signal
# Fixed argument lists, never a shell.
import subprocess  # nosec B404
import sys
import threading
from typing import Sequence

import click
from flask.cli import ScriptInfo

GRACE_SECONDS = 10.0


def supervise(commands: Sequence[Sequence[str]], *, stop: threading.Event | None = None,
              grace: float = GRACE_SECONDS) -> int:
    """Run ``commands`` side by side until one exits or ``stop`` is set; then end them all.

    Each child gets SIGTERM and ``grace`` seconds to finish (the worker ends
    its current job), then SIGKILL. Returns the exit code of the child that
    ended first, or 0 after a stop.
    """
    stop = stop or threading.Event()
    children = [subprocess.Popen(list(command)) for command in commands]
    first_code = 0
    try:
        while not stop.is_set():
            ended = [child for child in children if child.poll() is not None]
            if ended:
                first_code = ended[0].returncode
                break
            stop.wait(0.2)
    finally:
        for child in children:
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
    return first_code


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address the web server binds.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
def serve(host: str, port: int) -> None:
    """Run the development web server and a background worker; Ctrl-C stops both."""
    app_path = click.get_current_context().ensure_object(ScriptInfo).app_import_path
    flask = [sys.executable, "-m", "flask", *(["--app", app_path] if app_path else [])]
    stop = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    code = supervise([[*flask, "run", "--host", host, "--port", str(port)], [*flask, "worker"]],
                     stop=stop)
    raise SystemExit(code)
