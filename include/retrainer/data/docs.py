"""Data Docs that work offline: the site GX builds, with its CDN scripts and styles replaced by vendored
copies (`docs_assets/`) published beside it, then uploaded under the storage root (local or S3).

GX's pages load jQuery, Bootstrap and bootstrap-table from public CDNs, and the index page builds its table
of runs with them; without network access it shows two bare buttons. Here each page points at
`static/vendor/` instead (Font Awesome by a few Unicode stand-ins of ours, `icons.css`), and other
external scripts and styles (dark theme, charts, GX's logo) are dropped. A vendored tag loses the CDN's
`integrity` and `crossorigin` attributes: they make the fetch a CORS request, which a `file://` page (origin
`null`) is refused, so Bootstrap and Popper never ran and "Show more info" did nothing.
"""

from __future__ import annotations

import copy
import os
import re
from html import escape
from pathlib import Path
from typing import Any

from retrainer.storage import Storage

VENDOR_DIR = Path(__file__).with_name("docs_assets")
VENDOR_PREFIX = "static/vendor"
# The CDN addresses in GX 1.24's Data Docs templates, and the vendored file that replaces each.
CDN_ASSETS = {
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery-3.7.1.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": "icons.css",  # ours
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": "bootstrap-4.3.1.min.css",
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": "bootstrap-4.3.1.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": "popper-1.12.9.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js": (
        "bootstrap-datepicker-1.9.0.min.js"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css": (
        "bootstrap-datepicker-1.9.0.min.css"
    ),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css": "bootstrap-table-1.19.1.min.css",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js": "bootstrap-table-1.19.1.min.js",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/"
    "bootstrap-table-filter-control.min.js": "bootstrap-table-filter-control-1.19.1.min.js",
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/"
    "bootstrap-table-filter-control.css": "bootstrap-table-filter-control-1.19.1.min.css",
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/"
    "bootstrap-table-filter-control.min.css": "bootstrap-table-filter-control-1.19.1.min.css",
}
# GX copies tutorial images into every site that its validation pages never show (3.4 of its 4.3 MB).
SKIPPED = ("static/images/glossary_scroller.gif", "static/images/iterative-dev-loop.png")
# <script src="http…"></script>, <link … href="http…" …> and <img src="http…" …>: what a page fetches.
EXTERNAL = re.compile(
    r'<script[^>]*\ssrc="(?P<script>https?://[^"]+)"[^>]*>\s*</script>'
    r'|<link[^>]*\shref="(?P<link>https?://[^"]+)"[^>]*>'
    r'|<img[^>]*\ssrc="(?P<img>https?://[^"]+)"[^>]*>'
)
# The CDN's subresource-integrity attributes of a tag (with or without a value).
CORS_ATTRIBUTES = re.compile(r'\s(?:integrity|crossorigin)(?:\s*=\s*(?:"[^"]*"|\'[^\']*\'|[^\s>]+))?', re.I)


# The parts of an expectation's result that hold values of the batch itself (category levels, column
# names found, values out of range). GX 1.x escapes the parameters of its sentence templates but writes
# these into its tables as they are: a category level `<img src=x onerror=...>` became a live tag.
DATA_VALUES = (
    "observed_value",
    "partial_unexpected_list",
    "partial_unexpected_counts",
    "partial_unexpected_index_list",
    "unexpected_list",
    "unexpected_index_list",
    "details",
)


def _escaped(value: Any) -> Any:
    if isinstance(value, str):
        return escape(value)
    if isinstance(value, list | tuple):
        return [_escaped(item) for item in value]
    if isinstance(value, dict):
        return {key: _escaped(item) for key, item in value.items()}
    return value


def for_docs(validation):
    """A copy of a GX validation result (ExpectationSuiteValidationResult) to build Data Docs from: the
    values from the batch in each expectation's result, and the column it names, are HTML-escaped, so the
    page shows them as text. The result kept for machines (quarantine reasons, the JSON) stays as it was."""
    shown = copy.deepcopy(validation)
    for result in shown.results:
        values = result.result or {}
        result.result = {key: _escaped(v) if key in DATA_VALUES else v for key, v in values.items()}
        config = getattr(result, "expectation_config", None)
        if config is not None and isinstance(config.kwargs.get("column"), str):  # a heading GX writes as is
            config.kwargs["column"] = escape(config.kwargs["column"])
    return shown


def offline_page(html: str, vendor: str) -> str:
    """`html` with CDN assets pointed at `vendor` (the vendored folder, relative to the page) and every
    other external script, stylesheet and image dropped, and the vendored tags' `integrity`/`crossorigin`
    attributes removed (a `file://` page cannot load a CORS-checked script). Links to other sites stay
    links."""

    def replace(match: re.Match) -> str:
        url = match.group("script") or match.group("link") or match.group("img")
        if url in CDN_ASSETS:
            return CORS_ATTRIBUTES.sub("", match.group(0).replace(url, f"{vendor}/{CDN_ASSETS[url]}"))
        return ""

    return EXTERNAL.sub(replace, html)


def publish_docs(storage: Storage, site: Path, prefix: str) -> None:
    """Upload a Data Docs site built in a local directory to `prefix`, offline-ready, with the vendored
    assets beside it (local or S3, one code path)."""
    storage.delete_prefix(prefix)  # a rerun of the same date replaces its pages
    for path in sorted(site.rglob("*")):
        relative = path.relative_to(site).as_posix()
        if not path.is_file() or relative in SKIPPED:
            continue
        if path.suffix == ".html":
            vendor = Path(os.path.relpath(site / VENDOR_PREFIX, path.parent)).as_posix()
            storage.put_text(f"{prefix}/{relative}", offline_page(path.read_text(), vendor))
        else:
            storage.put_file(f"{prefix}/{relative}", path)
    for name in sorted(set(CDN_ASSETS.values())):
        storage.put_file(f"{prefix}/{VENDOR_PREFIX}/{name}", VENDOR_DIR / name)
