"""Text from code and configuration made safe for a generated Markdown page: nothing in it is read as
Markdown or HTML (a `|` would split a table cell, `<b>` would be a tag, `*x*` emphasis)."""

from __future__ import annotations

import html

# Characters Markdown gives a meaning to, written as numeric character references: shown as themselves.
_MARKDOWN = {c: f"&#{ord(c)};" for c in "|*_`[]\\{}#!~"}


def text(value: object) -> str:
    """`value` as one line of literal text for a Markdown page or a table cell (HTML and Markdown escaped,
    line breaks and runs of blanks folded to one space)."""
    folded = " ".join(str(value).split())
    return "".join(_MARKDOWN.get(c) or html.escape(c, quote=True) for c in folded)


def code(value: object) -> str:
    """`value` as inline code: an HTML <code> element around escaped text (a backtick span could not hold
    a backtick or a `|` inside a table)."""
    return f"<code>{text(value)}</code>"


def prose(value: object) -> str:
    """Like `text`, but a `backticked` span of a docstring or comment is shown as code."""
    parts = " ".join(str(value).split()).split("`")
    if len(parts) % 2 == 0:  # an unpaired backtick: no code spans
        return text(value)
    return "".join(code(part) if i % 2 else text(part) for i, part in enumerate(parts))


def table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table of cells already escaped (with `text` or `code`)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"
