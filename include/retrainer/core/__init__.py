"""The platform's foundations: settings, params, the clock, errors, and the names of every stored thing.

Kept free of heavy imports: the DAG files name `retrainer.core.errors.Rejected` in their retry policy.
"""
