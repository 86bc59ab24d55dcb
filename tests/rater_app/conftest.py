"""Fixtures for the rating app tests: tiny run directories (rater_app.testing) and a database."""

from __future__ import annotations

from pathlib import Path

import pytest

from rater_app.testing import make_runs


@pytest.fixture
def runs(tmp_path) -> list[Path]:
    """Three runs of 6 prompts x 2 images each under ``tmp_path/runs``."""
    return make_runs(tmp_path / "runs", 3)


@pytest.fixture
def db(tmp_path):
    from rater_app.storage import Database

    database = Database(f"sqlite:///{tmp_path / 'studies.db'}")
    yield database
    database.dispose()


class LiveServer:
    """A uvicorn server in a thread on a free loopback port."""

    def __init__(self, app):
        import socket
        import threading

        import uvicorn

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        import time

        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("test server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def live_server():
    """``live_server(app)`` -> a started LiveServer (stopped at teardown)."""
    started = []

    def start(app):
        server = LiveServer(app).__enter__()
        started.append(server)
        return server

    yield start
    for server in started:
        server.__exit__(None, None, None)
