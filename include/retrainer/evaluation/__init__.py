"""The evaluate stage: metrics, slices, the paired bootstrap, money, the gates and the gate report."""
