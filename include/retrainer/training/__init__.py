"""The train stage: the DVC pipeline in a per-run workspace, its stage bodies, features, point-in-time labels
and the models."""
