"""``/docs`` renders with no internet: Swagger UI's assets come from the hub itself.

A real hub and the system Chromium, with every request that leaves 127.0.0.1 aborted, as
on an air-gapped machine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stacklens.testing import HubProcess

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    process = HubProcess(Path(tmp_path_factory.mktemp("docs")) / "data").start()
    try:
        yield process
    finally:
        process.stop()


def test_docs_assets_are_served_by_the_hub(hub: HubProcess) -> None:
    with hub.client() as client:
        page = client.get("/docs")
        assert page.status_code == 200
        assert "cdn." not in page.text and "https://" not in page.text, page.text
        for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
            assert f"/{asset}" in page.text
        js = client.get("/static-offline-docs/swagger-ui-bundle.js")
        assert js.status_code == 200 and len(js.content) > 100_000


def test_docs_render_offline_in_a_browser(hub: HubProcess) -> None:
    from playwright.sync_api import sync_playwright

    outside: list[str] = []

    def only_loopback(route: Any) -> None:
        url = route.request.url
        if url.startswith(hub.url):
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page()
            page.route("**/*", only_loopback)
            page.goto(f"{hub.url}/docs", wait_until="load")
            title = page.locator(".swagger-ui .info .title")
            title.wait_for(timeout=15_000)
            assert "stacklens" in title.inner_text()
            # The operations are listed from the hub's own OpenAPI document.
            assert page.locator(".opblock-summary-path").count() > 10
        finally:
            browser.close()
    assert outside == [], outside
