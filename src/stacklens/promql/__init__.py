"""A Prometheus-compatible query engine over the store (``/prometheus/api/v1``).

PromQL is parsed by ``promql-parser``; each selector's raw samples are read in SQL
through the store's :class:`~stacklens.store.dialect.Dialect` (bounded by time, series
and points) and PromQL's evaluation semantics — lookback, step alignment, Prometheus's
extrapolated ``rate`` — run in Python (numpy) over those samples.

Series come from two sources (:mod:`stacklens.promql.hub_series`, the families
``/metrics`` exposes, their history rebuilt from the raw events; and
:mod:`stacklens.promql.otel_series`, stored OTel metric points).
"""
