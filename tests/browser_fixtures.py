"""A real browser for the customer chat page: Debian's Chromium, driven by Playwright.

``browser`` is started once per test module (headless ``/usr/bin/chromium``, or
``$CHROMIUM``); ``chat_page_server(server, **settings)`` serves the page, with the demo's own
code, for a local PubNub server and stops it at teardown.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from errbot_pubnub.emulator import PubNubEmulator
from errbot_support_demo.page import ChatPage, PageSettings
from tests.pubnub_fixtures import PUBLISH_KEY, SUBSCRIBE_KEY
from tests.support_fixtures import GROUP


def chromium_path() -> str | None:
    return (
        os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    )


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium; the tests skip, saying why, where no Chromium is installed.

    One per test module, not per session: Playwright's synchronous API runs an event loop in
    the main thread while it is open, and ``asyncio.run`` in a later test would then fail.
    """
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")
    executable = chromium_path()
    if executable is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


def page_settings(server: PubNubEmulator, **overrides: Any) -> PageSettings:
    settings: dict[str, Any] = {
        "publishKey": PUBLISH_KEY,
        "subscribeKey": SUBSCRIBE_KEY,
        "origin": server.origin,
        "ssl": False,
        "channelGroup": GROUP,
        "messageFormat": "default",
        "ratingQuestion": None,
        "sessionUrl": None,
    }
    settings.update(overrides)
    return PageSettings(**settings)


@pytest.fixture
def chat_page_server() -> Iterator[Callable[..., ChatPage]]:
    """``chat_page_server(server, sessions=None, **page_settings)``: the page for ``server``,
    with the demo's own code; with ``sessions`` (an ``errbot_support_demo.page`` session
    source) it opens each browser's customer session, as the demo does."""
    pages: list[ChatPage] = []

    def serve(server: PubNubEmulator, sessions: Any = None, **overrides: Any) -> ChatPage:
        if sessions is not None:
            overrides.setdefault("sessionUrl", "session")
        page = ChatPage(page_settings(server, **overrides), sessions, "127.0.0.1", 0).start()
        pages.append(page)
        return page

    yield serve
    for page in pages:
        page.stop()
