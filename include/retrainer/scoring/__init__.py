"""Batch scoring: a day's transactions scored by the deployed model(s), the day's report and the run's
health (`health.py`)."""
