"""Sidecar models: committees, sortition, peer ranking and difficulty filtering."""
