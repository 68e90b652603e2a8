"""Reports render data as text: markup in a category level, a slice name, a model's description or any
stored value shows in every page the platform writes as the characters it is, never as a live tag, an
image or a link (the gate report and the registry page are served inside the Airflow UI's origin, the
approval form's body is rendered as Markdown by that UI). The pages are parsed, not searched for strings."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from retrainer.core.markup import code, text
from retrainer.core.models import load_model
from retrainer.deployment.approval import summary_markdown
from retrainer.drift import data_drift
from retrainer.drift import render_html as drift_html
from retrainer.evaluation.gates import assess
from retrainer.evaluation.report import render_html as gate_html
from retrainer.evaluation.report import render_markdown
from retrainer.evaluation.slices import slice_masks
from retrainer.registry import page
from retrainer.registry.aliases import CHALLENGER, CHAMPION
from retrainer.registry.store import Registry
from tests.conftest import PROJECT_DIR

IMG = "<img src=x onerror=alert(1)>"
SCRIPT = "<script>alert(1)</script>"
JS_LINK = "[x](javascript:alert(1))"
IMAGE = "![y](https://evil.example/p.png)"
BARE = "https://evil.example www.evil.example a@evil.example"
PAYLOADS = (IMG, SCRIPT, JS_LINK, IMAGE)


class Page(HTMLParser):
    """Every element of a page with its attributes, and its text as a reader sees it."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict]] = []
        self.chunks: list[str] = []
        self.scripts: list[str] = []  # the text of inline scripts
        self.feed(html)
        self.close()
        self.text = "".join(self.chunks)

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))
        self.last = tag

    def handle_startendtag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.chunks.append(data)
        if getattr(self, "last", None) == "script":
            self.scripts.append(data)

    def links(self) -> list[str]:
        return [attrs.get("href") or "" for tag, attrs in self.elements if tag == "a"]


def assert_inert(html: str, allowed_links=lambda href: False) -> Page:
    """No script or image element, no event-handler attribute, no link but the page's own."""
    parsed = Page(html)
    tags = {tag for tag, _ in parsed.elements}
    assert not tags & {"script", "img", "iframe", "object", "embed"}, tags
    handlers = [(tag, name) for tag, attrs in parsed.elements for name in attrs if name.startswith("on")]
    assert not handlers
    assert not [href for href in parsed.links() if not allowed_links(href)]
    assert "javascript:" not in " ".join(str(attrs) for _, attrs in parsed.elements)
    return parsed


def _markdown_to_html(markdown: str) -> str:
    """A renderer more permissive than any we feed: raw HTML on, GitHub's tables, strikethrough and bare
    `https://…` and `name@host` autolinks (linkify-it, when installed, without its guesses at bare domains,
    which GitHub's Markdown does not link either)."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    if md.linkify is not None:  # linkify-it-py is not our dependency: without it, no bare autolinks
        md.enable("linkify").options["linkify"] = True
        md.linkify.set({"fuzzy_link": False})
    return md.render(markdown)


def test_markdown_text_renders_as_itself_for_any_characters():
    hostile = [*PAYLOADS, BARE, "a|b", "*b* _i_ ~~s~~ `c` snake_case_", "back\\slash \\[", "&lt;", "l1\n# l2"]
    for value in hostile:
        parsed = assert_inert(_markdown_to_html(f"- {text(value)} | {code(value)}"))
        shown = " ".join(value.split())  # a line break becomes a space: one value, one line
        assert parsed.text.strip() == f"{shown} | {shown}"
        assert not {tag for tag, _ in parsed.elements} - {"ul", "li", "code"}  # no em, a, h1, del...
    assert code("x ``y`` z").startswith("``` ")  # the fence outlasts any run of backticks inside


def _gate_report(levels: list[str]):
    params = load_model(PROJECT_DIR, "fraud-xgb")
    params["evaluate"]["bootstrap"]["resamples"] = 50
    params["model"]["positives"] = f"frauds {IMG}"  # configuration text, too
    rng = np.random.default_rng(0)
    n = 4000
    frame = pd.DataFrame({"region": rng.choice(levels, size=n), "amount": rng.lognormal(4, 1, n)})
    y = (rng.random(n) < 0.05).astype(int)
    scores = {"challenger": 2.5 * y + rng.normal(size=n), "baseline": y + rng.normal(size=n)}
    scores["champion"] = 2.2 * y + rng.normal(size=n)
    thresholds = {"challenger": 1.0, "baseline": 1.0, "champion": 1.2}
    spec = {"levels": ["region"], "expressions": {SCRIPT: "amount > 50"}}  # a slice named by config
    assessment = assess(y, frame["amount"].to_numpy(), scores, thresholds, slice_masks(frame, spec), params)
    report = {"model": "fraud-xgb", "run_key": "2026-11-23T000000Z", "champion_version": 3}
    return report | assessment.report, assessment.curves


def test_gate_report_shows_category_levels_and_slice_names_as_text():
    levels = ["na", IMG, JS_LINK, IMAGE]
    report, curves = _gate_report(levels)
    report["passed"] = False  # the failed slice is named in the headline too
    failing = f"region={IMG}"
    report["gates"] = [g | {"verdict": "failed"} if g["slice"] == failing else g for g in report["gates"]]
    html = gate_html(report, curves)
    parsed = assert_inert(html)
    for level in levels:
        assert f"region={level}" in parsed.text  # the slice is there, as its own characters
    assert SCRIPT in parsed.text and f"frauds {IMG}" in parsed.text
    assert f"[slice region={IMG}]" in parsed.text
    # ordinary content still renders: tables, headings, emphasis, both figures
    tags = [tag for tag, _ in parsed.elements]
    assert tags.count("table") == 4 and "h1" in tags and "strong" in tags and tags.count("svg") == 2
    # the Markdown kept for logs is safe too, even under a renderer with raw HTML on
    assert_inert(_markdown_to_html(render_markdown(report)))


def test_gate_report_renders_no_raw_html_even_from_its_own_markdown(monkeypatch):
    from retrainer.evaluation import report as module

    report, curves = _gate_report(["na", "eu"])
    monkeypatch.setattr(module, "render_markdown", lambda _: f"# title\n\n{IMG}\n\n<p>{SCRIPT}</p>\n")
    parsed = assert_inert(module.render_html(report, curves))
    assert IMG in parsed.text and SCRIPT in parsed.text


def test_drift_report_shows_category_levels_and_feature_names_as_text():
    rng = np.random.default_rng(3)
    levels = ["na", IMG, JS_LINK, "$\\x$"]  # the last: mathtext would stop matplotlib

    def frame(n: int, p: list[float]) -> pd.DataFrame:
        return pd.DataFrame(
            {"region": pd.Categorical(rng.choice(levels, size=n, p=p)), SCRIPT: rng.normal(size=n)}
        )

    report = data_drift(frame(20_000, [0.7, 0.1, 0.1, 0.1]), frame(20_000, [0.1, 0.3, 0.3, 0.3]))
    assert report["verdict"] == "drift" and "region" in report["root_cause"]
    html = drift_html(report, title=f"Drift: {IMG}")
    parsed = assert_inert(html)
    assert SCRIPT in parsed.text and f"Drift: {IMG}" in parsed.text
    plotted = [attrs.get("aria-label") for tag, attrs in parsed.elements if tag == "figure"]
    assert "region" in plotted and SCRIPT in plotted  # the features' plots are drawn, names intact
    assert [tag for tag, _ in parsed.elements].count("svg") == len(plotted)


def _record(storage, description: str) -> Registry:
    registry = Registry(storage, "fraud-xgb")
    for n in (1, 2):
        params = {"model": {"description": description if n == 2 else "v1"}}
        record, _ = registry.register(
            {"model.ubj": b"m"},
            {
                "as_of": IMG,
                "data_hash": JS_LINK,
                "dvc_lock_hashes": {SCRIPT: IMG},
                "batches": [IMAGE],
                "git": {"commit": IMG},
                "airflow_run_id": f"manual__{IMG}",
                "params": params,
                "gates": [{"name": "min_pr_auc", "verdict": "passed"}],
            },
            f"key{n}",
            actor=SCRIPT,
        )
        alias = CHAMPION if n == 1 else CHALLENGER
        registry.set_alias(alias, record["version"], IMG, f"because {JS_LINK}", expected=None)
    return registry


def test_registry_page_shows_descriptions_and_stored_values_as_text(storage):
    _record(storage, f"card fraud {IMG} {SCRIPT} {JS_LINK}")
    html = page.render(storage)
    # the page's own links: gate reports, Airflow runs, the comparison with the champion, the history
    own = ("versions/", "/dags/retrain_fraud-xgb/runs/", "compare?model=fraud-xgb&a=", "history?model=")
    parsed = assert_inert(html, lambda href: href.startswith(own))
    assert f"card fraud {IMG} {SCRIPT} {JS_LINK}" in parsed.text  # the description, in the params diff
    assert f"manual__{IMG}" in parsed.text and f"because {JS_LINK}" in parsed.text
    runs = [href for href in parsed.links() if href.startswith("/dags/")]
    assert runs and all("<" not in href and " " not in href for href in runs)  # the run id, percent-encoded
    assert [tag for tag, _ in parsed.elements].count("table") >= 2  # the page itself still renders


def test_comparison_page_shows_stored_values_as_text(storage):
    """Two versions side by side (registry.compare): descriptions, hashes, batches, actors and reasons
    from the records and the audit log show as text; the page's only links are its own."""
    from retrainer.registry import compare_html
    from retrainer.registry.compare import comparison

    registry = _record(storage, f"card fraud {IMG} {SCRIPT} {JS_LINK}")
    html = compare_html.render(comparison(registry, 2))
    parsed = assert_inert(html, lambda href: href.startswith(("versions/", "./")))
    assert f"card fraud {IMG} {SCRIPT} {JS_LINK}" in parsed.text  # the params diff
    assert JS_LINK in parsed.text and IMAGE in parsed.text and f"because {JS_LINK}" in parsed.text
    assert [tag for tag, _ in parsed.elements].count("table") >= 5


@pytest.fixture
def approval_registry(storage, params):
    from tests.deploy_helpers import register

    registry = Registry(storage, "fraud-xgb")
    register(registry, params, b"champion", alias=CHAMPION)
    gates = json.loads(registry.read_file(1, "gates.json"))
    gates["slices"]["rows"][0]["slice"] = f"region={IMG}{JS_LINK}"  # the worst slice
    gates["positives"] = f"frauds {IMAGE} {BARE}"
    record, _ = registry.register(
        {"model.ubj": b"challenger", "gates.json": json.dumps(gates).encode()},
        {"params": params, "data_hash": "abc`](javascript:alert(1))`", "git": {"commit": SCRIPT}},
        "hostile",
        actor="test",
    )
    registry.set_alias(CHALLENGER, record["version"], "test", "set up by the test", expected=None)
    return registry, record["version"]


def test_approval_form_body_shows_slice_names_and_hashes_as_text(approval_registry):
    registry, version = approval_registry
    body = summary_markdown(registry, version)
    parsed = assert_inert(_markdown_to_html(body), lambda href: href.startswith("/registry/versions/"))
    assert f"worst slice: region={IMG}{JS_LINK}" in parsed.text
    assert f"frauds {IMAGE} {BARE}" in parsed.text
    assert "abc`](javascript:alert(1))`" in parsed.text and SCRIPT[:12] in parsed.text
    # the one link is ours, to this version's gate report of this model; the summary still reads as one
    assert parsed.links() == [f"/registry/versions/{version}/report.html?model=fraud-xgb"]
    assert "strong" in {tag for tag, _ in parsed.elements}


def test_data_docs_show_category_levels_and_column_names_as_text(tmp_path):
    """GX's validation page lists a batch's unexpected values in its own tables, unescaped."""
    from retrainer.data.contracts import load_suite, run_suite
    from retrainer.data.docs import offline_page

    suite = {
        "name": "transactions",
        "expectations": [
            {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "region", "value_set": ["a"]}},
            {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": f"risk {IMG}"}},
        ],
    }
    (tmp_path / "suite.json").write_text(json.dumps(suite))
    frame = pd.DataFrame({"region": ["a", IMG, SCRIPT, JS_LINK] * 5, f"risk {IMG}": [1.0, None] * 10})
    run = run_suite(frame, load_suite(tmp_path / "suite.json"), docs_dir=tmp_path / "docs", run_name="run")
    assert len(run.failures) == 2
    assert IMG in json.dumps(run.result)  # the result kept for machines holds the values as they are
    pages = [p for p in (tmp_path / "docs").rglob("*.html") if "validations" in p.parts]
    parsed = Page(offline_page(pages[0].read_text(), "static/vendor"))
    assert not [attrs for tag, attrs in parsed.elements if tag == "img"]
    assert not [attrs for _, attrs in parsed.elements if "onerror" in attrs]
    assert not [text for text in parsed.scripts if "alert(1)" in text]
    for value in (IMG, SCRIPT, JS_LINK, f"risk {IMG}"):
        assert any(value in chunk for chunk in parsed.chunks), value  # shown once, as text
