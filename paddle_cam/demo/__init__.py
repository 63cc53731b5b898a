"""Synthetic document data for demos and tests."""
