"""The analytics side: usage, sessions, cost and billing, budgets, per-stack metrics.

Pure SQL builders (:mod:`queries`, :mod:`usage`, :mod:`sessions`, :mod:`costs`) written
once over a :class:`stacklens.store.dialect.Dialect`; rollups maintained in the loader's
transaction (:mod:`rollups`); pricing at ingest (:mod:`pricing`); the Prometheus
collector (:mod:`collector`); exports (:mod:`export`); budgets (:mod:`budgets`).
"""
