"""Batch scoring: a day's transactions scored by the deployed model(s), and the day's monitoring report."""
