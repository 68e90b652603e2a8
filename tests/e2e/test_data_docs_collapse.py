"""The published Data Docs page opened from disk (`file://`) in headless Chromium: clicking "Show more
info..." opens its panel, so Bootstrap, Popper and jQuery loaded from the vendored copies (with the CDN's
`integrity`/`crossorigin` kept, the browser refused them and the click did nothing)."""

from __future__ import annotations

import json
import time

import pandas as pd
import pytest

from retrainer.data.contracts import load_suite, run_suite
from retrainer.data.docs import publish_docs
from retrainer.storage import open_storage
from tests.e2e.test_registry_page_browser import Browser

pytestmark = pytest.mark.e2e


def test_show_more_info_opens_its_panel_on_the_published_page(tmp_path):
    suite = {
        "name": "transactions",
        "expectations": [
            {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "region", "value_set": ["a"]}}
        ],
    }
    (tmp_path / "suite.json").write_text(json.dumps(suite))
    frame = pd.DataFrame({"region": ["a", "b"] * 10})
    run_suite(frame, load_suite(tmp_path / "suite.json"), docs_dir=tmp_path / "site", run_name="run")
    publish_docs(open_storage(tmp_path / "published"), tmp_path / "site", "docs")
    [page] = [p for p in (tmp_path / "published" / "docs").rglob("*.html") if "validations" in p.parts]

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
