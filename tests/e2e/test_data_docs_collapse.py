"""The published Data Docs page opened from disk (`file://`) in headless Chromium: clicking "Show more
info..." opens its panel, so Bootstrap, Popper and jQuery loaded from the vendored copies (with the CDN's
`integrity`/`crossorigin` kept, the browser refused them and the click did nothing)."""

from __future__ import annotations

import json
import time

import pytest

from tests.data.test_docs import publish_failing_site
from tests.e2e.test_registry_page_browser import Browser

pytestmark = pytest.mark.e2e


def test_show_more_info_opens_its_panel_on_the_published_page(tmp_path):
    [page] = [p for p in publish_failing_site(tmp_path).rglob("*.html") if "validations" in p.parts]

    profile = tmp_path / "profile"
    profile.mkdir()
    browser = Browser(profile)
    try:
        browser.open(page.as_uri(), settle=1.0)
        loaded = browser.evaluate(
            "[typeof jQuery, typeof Popper, typeof (window.jQuery && jQuery.fn.collapse)]"
        )
        print("jQuery, Popper, Bootstrap's collapse:", loaded)
        assert loaded == ["function", "function", "function"]
        target = browser.evaluate(
            "(() => { const a = [...document.querySelectorAll('a[data-toggle=collapse]')]"
            ".find(x => x.textContent.includes('Show more info'));"
            " a.click(); return a.getAttribute('href'); })()"
        )
        assert target and target.startswith("#")
        deadline = time.monotonic() + 10
        shown = False
        while not shown and time.monotonic() < deadline:
            time.sleep(0.3)
            shown = browser.evaluate(
                f"document.getElementById({json.dumps(target[1:])}).classList.contains('show')"
            )
        print("panel", target, "shown after the click:", shown)
        assert shown, "Show more info did not open its panel"
    finally:
        browser.close()
