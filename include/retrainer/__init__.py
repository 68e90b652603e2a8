"""Retraining platform domain package."""
