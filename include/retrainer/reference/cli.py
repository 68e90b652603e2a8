"""Every `retrainer` command, read from its argparse parser (`retrainer.cli.build_parser`): the command,
its help, its usage line and each argument with its help, default and choices. `cli_page` writes the
reference page; `commands` lists the command paths (`registry show`, `deploy rollback`, ...)."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

from retrainer.cli import build_parser
from retrainer.reference import markdown as md


def _subcommands(parser: argparse.ArgumentParser) -> Iterator[tuple[str, str, argparse.ArgumentParser]]:
    """The parser's direct subcommands: (name, help, parser), in the order they were added."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
            for name, sub in action.choices.items():
                yield name, helps.get(name, ""), sub


def walk(
    parser: argparse.ArgumentParser | None = None, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], str, argparse.ArgumentParser]]:
    """Every command, depth first: (its words after `retrainer`, its help, its parser). A command with
    subcommands is listed before them."""
    for name, help_text, sub in _subcommands(parser or build_parser()):
        yield (*path, name), help_text, sub
        yield from walk(sub, (*path, name))


def commands() -> list[str]:
    """Every command as it is typed after `retrainer`: `generate`, `registry list`, ..."""
    return [" ".join(words) for words, _, _ in walk()]


def _arguments(parser: argparse.ArgumentParser) -> list[list[str]]:
    rows = []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
            continue
        name = ", ".join(action.option_strings) or action.metavar or action.dest
        facts = []
        if action.choices is not None:
            facts.append("one of " + ", ".join(str(c) for c in action.choices))
        if action.required and action.option_strings:
            facts.append("required")
        if action.default not in (None, False, [], argparse.SUPPRESS):
            facts.append(f"default {action.default}")
        if isinstance(action, argparse._AppendAction):
            facts.append("may be repeated")
        rows.append([md.code(name), md.prose(action.help or ""), md.text("; ".join(facts))])
    return rows


def cli_page() -> str:
    """The Markdown page of every command: a section each with its help, usage and arguments."""
    top = build_parser()
    out = [
        "# CLI reference",
        "",
        "Generated from the code when the site is built (`retrainer.reference.cli`, reading the argparse "
        "parser `retrainer.cli.build_parser`). " + md.text(top.description or ""),
        "",
        md.table(
            ["command", "what it does"],
            [[md.code(f"retrainer {' '.join(w)}"), md.prose(h)] for w, h, _ in walk(top)],
        ),
    ]
    for words, help_text, parser in walk(top):
        out += [f"## retrainer {md.text(' '.join(words))}", "", md.prose(help_text), ""]
        out += [f"<pre><code>{md.text(parser.format_usage().strip())}</code></pre>", ""]
        rows = _arguments(parser)
        if rows:
            out.append(md.table(["argument", "help", "notes"], rows))
    return "\n".join(out)
