"""MkDocs hook (mkdocs.yml `hooks:`): adds the reference pages generated from the code
(`retrainer.reference.pages`: params, CLI, errors) to the site at build time; nothing is written to docs/."""

from __future__ import annotations

from pathlib import Path

from mkdocs.structure.files import File, Files

from retrainer.reference import pages

PROJECT_DIR = Path(__file__).resolve().parent.parent


def on_files(files: Files, config) -> Files:
    for src_uri, content in pages(PROJECT_DIR).items():
        files.append(File.generated(config, src_uri, content=content))
    return files
