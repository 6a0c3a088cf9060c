"""Langfuse's wire formats → the native contract (the ingestion batch, the ``langfuse.*``
OTel attributes, usage and cost objects). The routes are in
:mod:`stacklens.ingest.langfuse_http`."""
