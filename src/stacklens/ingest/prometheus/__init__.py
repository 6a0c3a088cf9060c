"""Prometheus remote write 1.0 in: the ``prometheus.WriteRequest`` message and its decoding
to metric points (see :mod:`.remote_write`)."""
