"""The reference pages of the documentation site, generated from the code when the site is built (a hook
of `mkdocs.yml` calls `pages`): every params key from the schema, every CLI command from its argparse
parser, every named error. Nothing here is a hand-written copy of what the code says."""

from __future__ import annotations

from pathlib import Path

# Where each generated page goes in the site (under docs/), and nowhere in git.
PARAMS_PAGE = "reference/params.md"
CLI_PAGE = "reference/cli.md"
ERRORS_PAGE = "reference/errors.md"


def pages(project_dir: Path) -> dict[str, str]:
    """The generated pages of the site, by their path under docs/: Markdown made from the code of the
    project at `project_dir`."""
    from retrainer.reference.cli import cli_page
    from retrainer.reference.errors import errors_page
    from retrainer.reference.params import params_page

    return {
        PARAMS_PAGE: params_page(project_dir),
        CLI_PAGE: cli_page(),
        ERRORS_PAGE: errors_page(project_dir),
    }
