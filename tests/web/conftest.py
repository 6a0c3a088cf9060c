"""A real hub with seeded data and one headless Chromium (the system browser) for the
console's browser tests, shared by the module."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from stacklens.metadata import KeyRing, MetadataDB
from stacklens.testing import HubProcess, wait_until
from stacklens.testing.web import console_hub, console_seed_events

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


@dataclass
class ConsoleHub:
    hub: HubProcess
    url: str
    admin_key: str
    read_key: str
    acme_key: str
    now_ns: int

    def client(self, key: str | None = None) -> httpx.Client:
        return self.hub.client(key)

    def ingest(self, events: list[dict[str, Any]]) -> None:
        with self.client() as client:
            response = client.post("/v1/events", json=events)
            assert response.status_code == 200, response.text


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleHub]:
    base = tmp_path_factory.mktemp("console")
    hub = console_hub(base / "data").start()
    try:
        now = time.time_ns()
        events = console_seed_events(now)
        with hub.client() as client:
            for start in range(0, len(events), 1000):
                response = client.post("/v1/events", json=events[start : start + 1000])
                assert response.status_code == 200, response.text

            def loaded() -> bool:
                found = client.get(
                    "/api/v1/events", params={"event_type": "session_end", "stack": "acme-chat"}
                )
                ids = {e["event_id"] for e in found.json()["events"]}
                return "hand-end" in ids

            wait_until(loaded, timeout=20)
        keyring = KeyRing(MetadataDB.in_data_dir(base / "data"))
        _, read_key = keyring.create("read", label="browser read")
        _, acme_key = keyring.create("read", stack="acme-chat", label="browser acme")
        yield ConsoleHub(hub, hub.url, hub.admin_key, read_key, acme_key, now)
    finally:
        hub.stop()


@dataclass
class Tab:
    """A page with its console errors collected; ``visit`` asserts there are none."""

    page: Any
    base: str
    errors: list[str] = field(default_factory=list)

    def visit(self, path: str, *, status: int = 200) -> Any:
        self.errors.clear()
        response = self.page.goto(self.base + path, wait_until="load")
        assert response is not None
        assert response.status == status, (path, response.status)
        self.settle()
        return response

    def settle(self) -> None:
        self.page.wait_for_load_state("load")
        charts = self.page.locator("[data-chart]").count()
        if charts:
            self.page.wait_for_function(
                "n => document.querySelectorAll('[data-chart][data-rendered]').length === n",
                arg=charts,
                timeout=15_000,
            )
        assert self.errors == [], self.errors

    def value(self, testid: str) -> float | None:
        raw = self.page.get_by_test_id(testid).first.get_attribute("data-value")
        return None if raw in (None, "", "None") else float(raw)

    def api(self, path: str, **params: Any) -> Any:
        """GET the JSON API with this browser's session cookie (no API key)."""
        response = self.page.request.get(self.base + path, params=params)
        assert response.status == 200, (path, response.status, response.text()[:300])
        return response.json()

    def window(self) -> dict[str, str]:
        main = self.page.locator("main")
        return {
            "since": main.get_attribute("data-since"),
            "until": main.get_attribute("data-until"),
        }

    def shot(self, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


class Tabs:
    def __init__(self, browser: Any, base: str) -> None:
        self.browser = browser
        self.base = base
        self.contexts: list[Any] = []

    def open(self, key: str | None = None, **context_options: Any) -> Tab:
        context = self.browser.new_context(**context_options)
        self.contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        tab = Tab(page, self.base)
        page.on(
            "console",
            lambda m: tab.errors.append(f"console: {m.text}") if m.type == "error" else None,
        )
        page.on("pageerror", lambda e: tab.errors.append(f"pageerror: {e}"))
        if key is not None:
            sign_in(tab, key)
        return tab

    def close(self) -> None:
        for context in self.contexts:
            context.close()


def sign_in(tab: Tab, key: str) -> None:
    tab.visit("/login")
    tab.page.get_by_test_id("login-key").fill(key)
    with tab.page.expect_navigation():
        tab.page.get_by_test_id("login-submit").click()
    tab.settle()


@pytest.fixture(scope="module")
def tabs(browser: Any, console: ConsoleHub) -> Iterator[Tabs]:
    opened = Tabs(browser, console.url)
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def admin(tabs: Tabs, console: ConsoleHub) -> Tab:
    return tabs.open(console.admin_key)
