"""The `featurize` stage of `dvc.yaml`: the derived features of the training window's rows, computed over
the window and the source history before it (`data/history`, staged by `training.train`), written beside
the window for `prepare` to join. A changed declaration is a changed DVC param (`features.derived`): the
stage and everything after it run again.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from retrainer.core import artifacts
from retrainer.core.feature_declarations import definitions_hash, derived_feature_names
from retrainer.features.events import event_columns, history_files, normalise


def featurize(
    batches_dir: Path,
    history_dir: Path,
    out_dir: Path,
    params: dict[str, Any],
    start: datetime,
    end: datetime,
) -> dict:
    """Write the features of the window's rows (event time in [start, end)) to `out_dir/features.parquet`
    (a model without derived features: no file) and `out_dir/features.json`: the definitions' hash, the
    feature names, the rows and the history days read; returns the report."""
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
    (out_dir / Path(artifacts.FEATURES_REPORT).name).write_text(
        json.dumps(report, indent=2, sort_keys=True) + "\n"
    )
    return report


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
