"""Synthetic transactions and broken batches, for the demo and the tests only: the domain never imports it."""

from retrainer.synthetic.broken import BROKEN_KINDS, FILE_KINDS, LABEL_KINDS, MEANING_KINDS, ROW_KINDS
from retrainer.synthetic.generator import GeneratorConfig, generate, generate_day, partition_bytes

__all__ = [
    "BROKEN_KINDS",
    "FILE_KINDS",
    "LABEL_KINDS",
    "MEANING_KINDS",
    "ROW_KINDS",
    "GeneratorConfig",
    "generate",
    "generate_day",
    "partition_bytes",
]
