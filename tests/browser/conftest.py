"""The test app served over real HTTP on loopback, and Debian's headless Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, Route, sync_playwright

from tests.servers import served

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--no-first-run",
    # Tests talk to loopback only: any host name Chromium tries to look up fails.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]


@pytest.fixture(scope="module")
def live_server(app: Flask) -> Iterator[str]:
    """Serves the session's app from a thread; yields its origin."""
    with served(app) as origin:
        yield origin


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class NoScriptPage:
    """A Chromium tab with JavaScript off, and every URL it asked for."""

    page: Page
    origin: str
    requested: list[str] = field(default_factory=list)

    def foreign_requests(self) -> list[str]:
        return [url for url in self.requested if not same_origin(url, self.origin)]


def same_origin(url: str, origin: str) -> bool:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" == origin


@pytest.fixture
def no_script_page(browser: Browser, live_server: str) -> Iterator[NoScriptPage]:
    # Supporters may browse with scripts off (Tor Browser's safest level); the page uses none.
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1280,
                                                                        "height": 900})
    page = context.new_page()
    recorder = NoScriptPage(page, live_server)
    page.on("request", lambda request: recorder.requested.append(request.url))

    def only_loopback(route: Route) -> None:
        # Recorded above, so a test still sees the attempt; never let it leave the machine.
        if same_origin(route.request.url, live_server):
            route.continue_()
        else:
            route.abort()

    context.route("**/*", only_loopback)
    yield recorder
    context.close()
