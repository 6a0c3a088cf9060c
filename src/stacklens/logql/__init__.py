"""LogQL over the event store: parser, log pipeline, SQL builders and evaluation, for
the Loki query API (:mod:`stacklens.api.loki_query`)."""
