"""Errors that stop a run on purpose. Kept free of heavy imports: the DAG names them in its retry policy."""


class Rejected(RuntimeError):
    """A check said no (data contract, evaluation gate, checksum): retrying cannot change the verdict."""


class ConfigError(ValueError):
    """A setting or parameter is missing or has a value that cannot work."""


class NoDataInterval(Rejected):
    """The run has no data interval: it was triggered without a logical date."""

    def __init__(self, run: str | None = None) -> None:
        super().__init__(
            f"run {run or '(unnamed)'} has no data interval: it was triggered without a logical date. "
            'Trigger it with one (the form\'s Logical date, or "logical_date" in the REST body): the run '
            "then covers the last complete interval of the model's schedule (schedule.cron) before it, "
            "e.g. weekly on Mondays, logical date 2026-11-18 covers 2026-11-09 .. 2026-11-16, run key "
            "2026-11-16T000000Z"
        )


class BeforeModelStart(Rejected):
    """The run's window begins before the first day of the model's data (`data.start_date`)."""
