"""Data Docs published for `file://` (and S3) readers: the vendored scripts load without the CDN's
subresource-integrity attributes, which a `file://` page (origin `null`) cannot satisfy."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd

from retrainer.data.contracts import load_suite, run_suite
from retrainer.data.docs import VENDOR_PREFIX, publish_docs
from retrainer.storage import open_storage


class Tags(HTMLParser):
    """Every <script src> and <link href> of a page, with its attributes."""

    def __init__(self, html: str):
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if (tag == "script" and found.get("src")) or (tag == "link" and found.get("href")):
            self.tags.append((tag, found))


def publish_failing_site(tmp_path: Path) -> Path:
    """A Data Docs site of one failed expectation (so its page has a "Show more info" panel), published
    through local storage under `tmp_path / "published" / "docs"`, which is returned."""
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
    return tmp_path / "published" / "docs"


def test_published_data_docs_load_bootstrap_and_popper_from_disk_without_cors_checks(tmp_path):
    """ "Show more info" is Bootstrap's collapse (Bootstrap + Popper + jQuery): every vendored tag must load
    from the published folder, with no `integrity`/`crossorigin` left to make the browser refuse it."""
    published = publish_failing_site(tmp_path)
    pages = sorted(published.rglob("*.html"))
    assert any("validations" in page.parts for page in pages)
    loaded: set[str] = set()
    for page in pages:
        for tag, attrs in Tags(page.read_text()).tags:
            address = attrs.get("src") or attrs.get("href") or ""
            if VENDOR_PREFIX not in address:
                continue
            assert "integrity" not in attrs and "crossorigin" not in attrs, (page.name, tag, attrs)
            assert (page.parent / address).resolve().is_file(), (page.name, address)  # it loads from disk
            loaded.add(Path(address).name)
    scripts = {name for name in loaded if name.endswith(".js")}
    print("vendored scripts the pages load:", sorted(scripts))
    assert {"bootstrap-4.3.1.min.js", "popper-1.12.9.min.js", "jquery-3.7.1.min.js"} <= scripts
    for page in pages:  # and no page keeps an integrity check anywhere (another tag GX may add)
        assert not re.search(r"\s(integrity|crossorigin)\b", page.read_text(), re.I), page.name
