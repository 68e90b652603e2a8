"""The reference pages of the documentation site, generated from the code when the site is built (a hook
of `mkdocs.yml` calls `pages`): every params key from the schema, every CLI command from its argparse
parser, every named error. Nothing here is a hand-written copy of what the code says."""
