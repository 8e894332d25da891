"""The fake GitHub API of every test in this folder."""

import threading
from collections.abc import Iterator

import pytest

from integrations_tests.github.fake_github import GitHub, serve


@pytest.fixture
def github() -> Iterator[GitHub]:
    """A fresh organization on a GitHub API served from a free loopback port."""
    state, httpd = serve()
    # A short poll interval: shutdown() waits for it, after every test.
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()
    thread.join()
