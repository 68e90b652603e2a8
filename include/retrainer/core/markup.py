"""Text from data or configuration (slice names from category levels, model names, descriptions, hashes)
placed into Markdown that is later rendered as HTML: the gate report (markdown-it) and the approval form's
body (the Airflow UI's Markdown). It must read as the same text, never as a tag, a link, an image or
emphasis: a category level `<img src=x onerror=...>` or `[x](https://phish)` stays literal.

HTML pages built here escape with `html.escape` instead; this module is for Markdown only.
"""

from __future__ import annotations

import re
from typing import Any

# Line breaks would let a value open a block of its own (a heading, a list, a table row): one line it is.
_BREAKS = re.compile(r"[\r\n\x0b\x0c\x85\u2028\u2029]+")
# Every character that starts an inline construct (CommonMark and GitHub's extensions, which the Airflow
# UI renders): code spans, emphasis, strikethrough, links and images, autolinks and raw HTML, entities,
# table cells; `:` and `@` break the bare `https://…` and `name@host` autolinks. A backslash before ASCII
# punctuation is CommonMark's own escape: the character renders as itself. An `_` between two letters or
# digits can neither open nor close emphasis, so `min_pr_auc` stays readable in the Markdown kept for logs.
_SPECIAL = re.compile(r"[\\`*~\[\]<>&|:@]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")
_WWW = re.compile(r"(?i)(?<=www)\.")  # GitHub's extended autolink also takes a bare `www.host`


def text(value: Any) -> str:
    """`value` as Markdown that renders to exactly its text (on one line), whatever characters it holds."""
    return _WWW.sub(r"\\.", _SPECIAL.sub(r"\\\g<0>", _BREAKS.sub(" ", str(value))))


def code(value: Any) -> str:
    """`value` as a Markdown code span: shown verbatim in a fixed-width font. The fence is longer than any
    run of backticks inside, so the value cannot close the span early and go on as Markdown."""
    value = _BREAKS.sub(" ", str(value))
    fence = "`" * (max((len(run) for run in re.findall(r"`+", value)), default=0) + 1)
    # CommonMark strips one space on each side of a span's content: padding keeps edge backticks inside.
    return f"{fence} {value} {fence}" if "`" in value else f"{fence}{value}{fence}"
