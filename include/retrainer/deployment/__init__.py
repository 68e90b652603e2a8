"""Deployment: the record of which models score and how, its moves, canary ramps and rollbacks."""
