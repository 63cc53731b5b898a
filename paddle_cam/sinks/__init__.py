"""Outputs: overlays, reports, VisualDL."""
