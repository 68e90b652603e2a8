"""The generated reference says what every params key means (or the test names the key that has no
meaning), escapes what it copies from code and configuration, and the runbook covers every named error."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from pathlib import Path

import markdown

from retrainer.reference import markdown as md
from retrainer.reference.errors import named_errors
from retrainer.reference.params import keys, undocumented_keys

PROJECT_DIR = Path(__file__).resolve().parents[2]


def test_every_params_key_has_a_meaning():
    missing = undocumented_keys(PROJECT_DIR)
    assert not missing, (
        f"params keys with no meaning: {missing}. Say what each means: a comment beside it in the schema "
        "(retrainer.core.schema or its *_schema modules) or in models/defaults.yaml"
    )


def test_a_key_whose_comment_is_deleted_is_named_as_having_no_meaning(tmp_path):
    (tmp_path / "models").mkdir()
    defaults = (PROJECT_DIR / "models" / "defaults.yaml").read_text()
    line = next(t for t in defaults.splitlines() if t.strip().startswith("late_files_hours:"))
    (tmp_path / "models" / "defaults.yaml").write_text(defaults.replace(line, line.split("#")[0].rstrip()))
    assert undocumented_keys(tmp_path) == ["data.late_files_hours"]


def test_defaults_come_from_models_defaults_yaml():
    by_key = {key.dotted: key for key in keys(PROJECT_DIR)}
    assert by_key["data.training_window_days"].default == "56"
    assert by_key["deployment.canary.steps"].default == "[5, 25, 50, 100]"
    assert by_key["model.id_column"].default.startswith("required")
    assert "rows per day" in by_key["validation.recent_batches"].meaning  # the comment in defaults.yaml


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += [name for name, _ in attrs]


def test_text_from_code_is_shown_as_text_in_a_table():
    hostile = "<img src=x onerror=alert(1)> | *bold* [x](javascript:alert(1)) `tick` <script>1</script>"
    page = md.table(["key", "meaning"], [[md.code("a|b"), md.text(hostile)], [md.prose(f"`{hostile}`"), ""]])
    rendered = markdown.markdown(page, extensions=["tables"])
    tags = _Tags()
    tags.feed(rendered)
    assert set(tags.tags) == {"table", "thead", "tbody", "tr", "th", "td", "code"}
    assert tags.attrs == []
    assert len(re.findall(r"<td>", rendered)) == 4  # the `|` inside the cells did not split them
    shown = re.sub(r"<[^>]+>", "", rendered)
    assert html.unescape(shown).count("<img src=x onerror=alert(1)>") == 2


def test_the_runbook_says_what_to_do_about_every_named_error():
    runbook = (PROJECT_DIR / "docs" / "operations" / "runbook.md").read_text()
    errors = named_errors(PROJECT_DIR)
    assert {"Rejected", "GateFailed", "ChecksumMismatch", "AlertConnectionUndefined"} <= {
        e.name for e in errors
    }
    missing = [e.name for e in errors if f"`{e.name}`" not in runbook]
    assert not missing, f"named errors the runbook does not cover: {missing} (docs/operations/runbook.md)"
    undocumented = [e.name for e in errors if not e.doc]
    assert not undocumented, f"errors without a docstring saying what they mean: {undocumented}"
