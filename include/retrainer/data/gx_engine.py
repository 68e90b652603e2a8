"""Two costs of Great Expectations' pandas engine (GX 1.x) that validation does not need, lifted for the
length of a validation run (`lighter_pandas_engine`). Neither changes a verdict or an observed value.

- **A fingerprint of every frame.** The engine hashes each frame it is handed (pandas' row hashes, then
  md5) into the batch markers: about 0.6 s per group of 2^24 values. When the caller names the bytes
  judged itself (validate's `batch_sha256`, the sha256 of the file the frame was read from), the
  fingerprint is dropped anyway, so it is not computed.
- **A search for `decimal.Decimal` in numeric columns.** Before a column's mean, sum or standard deviation
  the engine looks at every value, in a Python loop, for Decimal objects to convert: about 1.3 s per
  column of 5M rows. Only a column of Python objects can hold one, so a column of another dtype is
  answered at once; an object column is still searched as before.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def lighter_pandas_engine(*, fingerprints: bool) -> Iterator[None]:
    """GX's pandas engine without its Decimal search of numeric columns and, unless `fingerprints`, without
    its frame fingerprints; restored on exit. One validation at a time per process (GX's own state is
    process-wide too)."""
    from great_expectations import util
    from great_expectations.execution_engine import pandas_execution_engine as engine

    search, threshold = util.does_ndarray_contain_decimal_dtype, engine.HASH_THRESHOLD

    def contains_decimal(data) -> bool:
        return data.dtype == object and search(data)

    util.does_ndarray_contain_decimal_dtype = contains_decimal
    if not fingerprints:
        engine.HASH_THRESHOLD = 0  # frames of at least this many bytes are not fingerprinted
    try:
        yield
    finally:
        util.does_ndarray_contain_decimal_dtype, engine.HASH_THRESHOLD = search, threshold


def json_safe_quantile_details() -> None:
    """GX 1.24's `expect_column_quantile_values_to_be_between` returns its verdicts as numpy bools, which its
    own result store cannot serialise under numpy 2 ("Object of type bool is not JSON serializable"): every
    run of such an expectation failed. Its verdicts are made plain bools, once per process; the verdicts
    themselves do not change."""
    from great_expectations.expectations.core.expect_column_quantile_values_to_be_between import (
        ExpectColumnQuantileValuesToBeBetween as Quantiles,
    )

    judge = Quantiles._validate
    if getattr(judge, "json_safe", False):
        return

    def validate(self, *args, **kwargs) -> dict:
        verdict = judge(self, *args, **kwargs)
        details = verdict["result"]["details"]
        details["success_details"] = [bool(ok) for ok in details["success_details"]]
        return verdict | {"success": bool(verdict["success"])}

    validate.json_safe = True  # type: ignore[attr-defined]
    Quantiles._validate = validate
