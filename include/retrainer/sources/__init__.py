"""Where the raw data arrives and how it is laid out: one Parquet partition per day under the source root."""
