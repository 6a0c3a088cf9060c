"""Zipkin v2 decoding: JSON spans → the same raw events OTLP spans become.

Pure functions (no I/O): the Zipkin adapter (``ingest/zipkin_http.py``) runs
:func:`zipkin_steps` on the (already gunzipped) body and hands the batch to the ingest
service.
"""

from __future__ import annotations

from .spans import ZipkinDecodeError, typed_tag, zipkin_steps

__all__ = ["ZipkinDecodeError", "typed_tag", "zipkin_steps"]
