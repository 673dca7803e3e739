"""The browser tests: Debian's Chromium driven by Playwright against a live stack serving the web app.

``scripts/test`` installs Chromium (``scripts/bootstrap-browser``) and builds the app
(``scripts/bootstrap-web``) before pytest starts; run alone, these tests build the app themselves
and say how to install Chromium. A failed test leaves a screenshot of its page in
``build/test-output/browser/``.
"""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.support.live_stack import ROOT, LiveStack, shared_live_stack

CHROMIUM = Path("/usr/bin/chromium")
OUTPUT = ROOT / "build" / "test-output" / "browser"
AXE = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
# As root on this closed network: no sandbox (root), and none of Chromium's own calls home, which
# would be refused many at a time (see the machine notes on Chromium).
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PHONE = {"width": 390, "height": 844}


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.browser_failed = report.failed
    return report


def _web(stack: LiveStack) -> LiveStack:
    """``stack`` with the app built and the dev IdP open to the app's origin."""
    subprocess.run([str(ROOT / "scripts" / "bootstrap-web")], check=True, capture_output=True)
    if stack.api_url not in stack.idp.allowed_origins:
        stack.idp.allowed_origins = (*stack.idp.allowed_origins, stack.api_url)
    return stack


@pytest.fixture(scope="session")
def web_stack() -> LiveStack:
    """The shared live stack with its storage (SeaweedFS, an S3 STS profile), serving the app: one stack for
    every page, vaults with buckets included."""
    return _web(shared_live_stack(storage=True))


@pytest.fixture(scope="session")
def web_storage_stack(web_stack) -> LiveStack:
    return web_stack


@pytest.fixture(scope="module")
def browser():
    """One Chromium per test file: Playwright's sync API keeps an event loop running in this thread while it is
    open, which would break a later module's asyncio.run in the same worker (the load test's)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/bootstrap-browser (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def context(browser, request):
    """A fresh browser profile: no cookie, no storage; its pages are photographed if the test fails."""
    context = browser.new_context()
    context.set_default_timeout(5_000)
    yield context
    if getattr(request.node, "browser_failed", False):
        OUTPUT.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)
        for number, page in enumerate(context.pages):
            if not page.is_closed():
                page.screenshot(path=str(OUTPUT / f"{name}-{number}.png"), full_page=True)
    context.close()


@pytest.fixture
def page(context):
    return context.new_page()


def serious_accessibility_violations(page) -> list[str]:
    """axe-core's serious and critical findings on the page as it is now (axe from web/node_modules).

    Evaluated through the DevTools protocol, which the page's CSP does not govern: the app's own
    policy stays as strict as in production."""
    if not page.evaluate("() => 'axe' in window"):
        page.evaluate(AXE.read_text())
    results = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations")
    return [f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']]}"
            for v in results if v["impact"] in ("serious", "critical")]
