"""Errors that stop a run on purpose. Kept free of heavy imports: the DAG names them in its retry policy."""


class Rejected(RuntimeError):
    """A check said no (data contract, evaluation gate, checksum): retrying cannot change the verdict."""


class ConfigError(ValueError):
    """A setting or parameter is missing or has a value that cannot work."""
