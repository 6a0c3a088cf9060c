-- 0001 initial: the raw streams (events, metric points) and the spool checkpoints.
-- Single-node form (same columns as clustered).
CREATE TABLE IF NOT EXISTS events (
    event_id String CODEC(ZSTD(3)),
    ts DateTime64(6, 'UTC') CODEC(Delta, ZSTD(1)),
    stack_name LowCardinality(String),
    event_type LowCardinality(String),
    session_id Nullable(String),
    trace_id Nullable(String),
    span_id Nullable(String),
    parent_span_id Nullable(String),
    user_id Nullable(String),
    service LowCardinality(Nullable(String)),
    level LowCardinality(Nullable(String)),
    message Nullable(String) CODEC(ZSTD(3)),
    role LowCardinality(Nullable(String)),
    model LowCardinality(Nullable(String)),
    provider LowCardinality(Nullable(String)),
    agent LowCardinality(Nullable(String)),
    tool LowCardinality(Nullable(String)),
    tokens_in Nullable(Int64),
    tokens_out Nullable(Int64),
    tokens_cache_read Nullable(Int64),
    tokens_cache_write Nullable(Int64),
    tokens_reasoning Nullable(Int64),
    cost_usd Nullable(Float64),
    duration_ms Nullable(Float64),
    success Nullable(Bool),
    error_code LowCardinality(Nullable(String)),
    status_code Nullable(Int64),
    method LowCardinality(Nullable(String)),
    path Nullable(String),
    content_hash Nullable(String),
    content_length Nullable(Int64),
    word_count Nullable(Int64),
    score Nullable(Float64),
    comment Nullable(String) CODEC(ZSTD(3)),
    content Nullable(String) CODEC(ZSTD(3)),
    command Nullable(String) CODEC(ZSTD(3)),
    file_path Nullable(String),
    url Nullable(String) CODEC(ZSTD(3)),
    args_hash Nullable(String),
    attributes Nullable(String) CODEC(ZSTD(3)),
    received_ns Int64 CODEC(Delta, ZSTD(1)),
    _version UInt64 DEFAULT toUnixTimestamp64Nano(now64(9)),
    INDEX idx_session_id session_id TYPE bloom_filter(0.01) GRANULARITY 4,
    INDEX idx_trace_id trace_id TYPE bloom_filter(0.01) GRANULARITY 4,
    INDEX idx_event_id event_id TYPE bloom_filter(0.01) GRANULARITY 4
)
ENGINE = ReplacingMergeTree(_version)
PARTITION BY toDate(ts)
ORDER BY (stack_name, ts, event_id)
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1, non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS metric_points (
    point_id String CODEC(ZSTD(3)),
    ts DateTime64(6, 'UTC') CODEC(Delta, ZSTD(1)),
    stack_name LowCardinality(String),
    name LowCardinality(String),
    kind LowCardinality(String),
    service LowCardinality(Nullable(String)),
    unit LowCardinality(Nullable(String)),
    attributes Nullable(String) CODEC(ZSTD(3)),
    value Nullable(Float64),
    count Nullable(Int64),
    bounds Array(Float64),
    bucket_counts Array(Int64),
    monotonic Nullable(Bool),
    temporality LowCardinality(Nullable(String)),
    start_ts Nullable(DateTime64(6, 'UTC')) CODEC(Delta, ZSTD(1)),
    received_ns Int64 CODEC(Delta, ZSTD(1)),
    _version UInt64 DEFAULT toUnixTimestamp64Nano(now64(9)),
    INDEX idx_point_id point_id TYPE bloom_filter(0.01) GRANULARITY 4
)
ENGINE = ReplacingMergeTree(_version)
PARTITION BY toDate(ts)
ORDER BY (stack_name, ts, point_id)
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1, non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS spool_checkpoints (
    stream String,
    segment Int64,
    _version UInt64 DEFAULT toUnixTimestamp64Nano(now64(9))
)
ENGINE = ReplacingMergeTree(_version)
ORDER BY stream;
