"""The monitor stage: the champion's inputs, outputs and matured labels against its training reference,
judged by `retrainer.drift`, and whether the evidence starts a retraining."""
