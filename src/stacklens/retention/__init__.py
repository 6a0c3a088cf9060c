"""Retention: how long each tier of data is kept, and the job that enforces it.

:mod:`.tiers` holds the tiers and their periods (configuration, validation, per-stack
overrides); the job and erasure build on it.
"""
