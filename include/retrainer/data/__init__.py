"""The data stages: extract a batch, validate it against its contract, quarantine and release, and the
catalogue of validated batches that training reads."""
