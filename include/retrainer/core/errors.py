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


class StageTimeout(RuntimeError):
    """A process the platform started (DVC, a training stage, git) ran past its time limit and was killed
    with its whole process group. Not a verdict: a retry may find the resource free again."""

    def __init__(self, what: str, seconds: float, fix: str) -> None:
        super().__init__(
            f"{what} was still running after {seconds:g} s and was killed (with every process it started); "
            f"{fix}"
        )
        self.what = what
        self.seconds = seconds


class StorageTimeout(RuntimeError):
    """An S3 endpoint accepted no connection, or sent no answer, within the storage time limits (each
    attempt). Not a verdict: the task's retry may find the endpoint back."""

    def __init__(self, operation: str, uri: str, endpoint: str, limits: str, cause: BaseException) -> None:
        super().__init__(
            f"S3 {operation} of {uri} at {endpoint} got no answer ({limits}): {cause}. Check that the "
            "endpoint is up and reachable; the limits are timeouts.storage in the model's params "
            "(models/defaults.yaml)"
        )
        self.operation = operation
        self.uri = uri
        self.endpoint = endpoint
