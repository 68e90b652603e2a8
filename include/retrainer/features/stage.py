"""The `featurize` stage of `dvc.yaml`: the derived features of the training window's rows, computed over
the window and the source history before it (`data/history`, staged by `training.train`), written beside
the window for `prepare` to join. A changed declaration is a changed DVC param (`features.derived`): the
stage and everything after it run again.

The features are judged by their own contract (expectations/<suite>.features.json, staged in the workspace
as `data/features-suite.json`) before anything trains on them: a critical failure stops the pipeline with
FeatureContractBroken, naming each expectation, column and observed value.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from retrainer.core import artifacts
from retrainer.core.errors import Rejected
from retrainer.core.feature_declarations import definitions_hash, derived_feature_names
from retrainer.features.events import event_columns, history_files, normalise
from retrainer.storage import sha256_file

log = logging.getLogger(__name__)


class FeatureContractBroken(Rejected):
    """The derived features of a training window broke a critical expectation of their contract (the
    model's features suite): a verdict on the data or the declarations, not retried."""

    def __init__(self, suite: str, features_file: str, failures: list) -> None:
        self.suite, self.features_file, self.failures = suite, features_file, failures
        lines = "\n".join(f"  - {failure.describe()}" for failure in failures)
        super().__init__(
            f"the derived features in {features_file} broke {len(failures)} critical expectation(s) of the "
            f"features suite {suite!r}:\n{lines}\nFix the declaration (features.derived) or the source data; "
            f"if the contract is what is wrong, edit its expectation in expectations/{suite}.json"
        )


def featurize(
    batches_dir: Path,
    history_dir: Path,
    out_dir: Path,
    params: dict[str, Any],
    start: datetime,
    end: datetime,
    suite_path: Path | None = None,
) -> dict:
    """Write the features of the window's rows (event time in [start, end)) to `out_dir/features.parquet`
    (a model without derived features: no file) and `out_dir/features.json`: the definitions' hash, the
    feature names, the rows and the history days read, and with `suite_path` (a features suite as JSON;
    the file holding null: none) the contract's verdict on the features file (`contract`: the suite, the
    file's sha256, success, failures and warnings). Returns the report; raises FeatureContractBroken (after
    writing the report) when a critical expectation fails."""
    names = derived_feature_names(params)
    out_dir.mkdir(parents=True, exist_ok=True)
    history_report = Path(history_dir) / Path(artifacts.HISTORY_REPORT).name
    report: dict[str, Any] = {
        "definitions_hash": definitions_hash(params),
        "derived": names,
        "history": json.loads(history_report.read_text()) if history_report.exists() else [],
        "rows": 0,
    }
    if names:
        from retrainer.features.engine import write_features

        window = sorted(Path(batches_dir).glob("*.parquet"))
        rows = out_dir / ".window-events.parquet"
        try:
            _write_events(window, rows, params)
            events = [*history_files(history_dir), rows]
            report["rows"] = write_features(
                events,
                params,
                out_dir / Path(artifacts.FEATURES).name,
                start=start,
                end=end,
                temp_dir=out_dir,
            )
        finally:
            rows.unlink(missing_ok=True)
    broken = None
    if names and suite_path is not None and json.loads(Path(suite_path).read_text()) is not None:
        report["contract"], broken = judge(out_dir / Path(artifacts.FEATURES).name, Path(suite_path))
    (out_dir / Path(artifacts.FEATURES_REPORT).name).write_text(
        json.dumps(report, indent=2, sort_keys=True) + "\n"
    )
    if broken is not None:
        raise broken
    return report


def judge(features_file: Path, suite_path: Path) -> tuple[dict, FeatureContractBroken | None]:
    """The features suite at `suite_path` run on `features_file`: the verdict for the report, and the error
    to raise when a critical expectation failed (None when every critical one held)."""
    from retrainer.data.contracts import ParquetColumns, load_suite, run_suite, summary_table

    suite = load_suite(suite_path)
    digest = sha256_file(features_file)
    run = run_suite(ParquetColumns(features_file), suite, markers={"features_sha256": digest})
    critical = [f for f in run.failures if f.severity == "critical"]
    warnings = [f for f in run.failures if f.severity != "critical"]
    log.info("%s", summary_table(suite.name, len(suite.expectations), critical, warnings))
    verdict = {
        "suite": suite.name,
        "features_sha256": digest,
        "success": not critical,
        "evaluated": len(suite.expectations),
        "failures": [asdict(f) for f in critical],
        "warnings": [asdict(f) for f in warnings],
    }
    error = FeatureContractBroken(suite.name, str(features_file), critical) if critical else None
    return verdict, error


def _write_events(files: list[Path], target: Path, params: dict[str, Any]) -> None:
    """The window's rows as one normalised events file, a row group at a time (only the declarations'
    columns are ever read)."""
    writer = None
    try:
        for path in files:
            batch_file = pq.ParquetFile(path)
            columns = [c for c in event_columns(params) if c in batch_file.schema_arrow.names]
            for group in range(batch_file.num_row_groups):
                table = normalise(batch_file.read_row_group(group, columns=columns), params)
                if writer is None:
                    writer = pq.ParquetWriter(target, table.schema)
                writer.write_table(table.cast(writer.schema))
    finally:
        if writer is not None:
            writer.close()
