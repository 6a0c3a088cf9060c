"""LangSmith's wire formats → the native contract (runs, feedback, multipart bodies). The
routes are in :mod:`stacklens.ingest.langsmith_http`."""
