"""Export for teams that run Prometheus and Alertmanager.

:func:`export_prometheus_rules` writes each rule Prometheus can express as PromQL over
the hub's ``/metrics`` names (and ``metric_value`` rules over the metric's own name, as
Prometheus scrapes it from its exporter); the others are listed with the reason (a
``by``/``where`` on a dimension ``/metrics`` does not carry — user and session ids
never are, for cardinality — or a signal with no counter behind it).
:func:`export_alertmanager_config` writes the routing tree, receivers and inhibit rules
as an ``alertmanager.yml``; secrets are replaced by placeholders unless asked for.

Approximations, by construction the same threshold crossing: PromQL ``rate``/``increase``
extrapolate to the window's edges, and ``histogram_quantile`` interpolates within the
hub's buckets (0.5 … 120 s) where the hub computes an exact quantile.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any, Final

import yaml

from stacklens.alerting.config_file import AlertingConfig, Secret, redact_url
from stacklens.alerting.durations import format_duration
from stacklens.alerting.message_templates import format_value
from stacklens.alerting.routing import Matcher, Route
from stacklens.alerting.rules import Rule, RuleSet
from stacklens.alerting.signals import Condition, Filter, dimension_label

__all__ = ["NotExportable", "export_alertmanager_config", "export_prometheus_rules", "promql"]

_PER_PRINCIPAL: Final = ("user_id", "session_id")
_BY_ALL: Final = ("stack_name",)


class NotExportable(Exception):
    """The rule has no faithful PromQL; the message says why."""


def _labels_for(condition: Condition, allowed: Sequence[str]) -> list[str]:
    labels = []
    for dimension in condition.by:
        if dimension in _PER_PRINCIPAL:
            raise NotExportable(
                f"per-{dimension.removesuffix('_id')} fan-out (by {dimension}): /metrics never "
                "carries user or session ids (unbounded cardinality)"
            )
        if dimension not in allowed:
            raise NotExportable(f"by {dimension}: not a label of the exported metric")
        labels.append(dimension)
    return labels


def _matchers(filters: Iterable[Filter], allowed: Sequence[str] | None) -> list[str]:
    out = []
    for item in filters:
        label = dimension_label(item.dimension) if allowed is None else item.dimension
        if item.dimension in _PER_PRINCIPAL:
            raise NotExportable(
                f"where {item.dimension}: /metrics never carries user or session ids"
            )
        if allowed is not None and item.dimension not in allowed:
            raise NotExportable(f"where {item.dimension}: not a label of the exported metric")
        if allowed is None and item.dimension in ("name", "kind", "unit"):
            raise NotExportable(f"where {item.dimension}: not a Prometheus label")
        if item.op in ("in", "not_in"):
            values = item.value if isinstance(item.value, tuple) else (item.value,)
            regex = "|".join(re.escape(v) for v in values)
            op = "=~" if item.op == "in" else "!~"
            out.append(f"{label}{op}{_quote(regex)}")
        else:
            out.append(f"{label}{item.op}{_quote(str(item.value))}")
    return out


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _sel(metric: str, matchers: list[str], extra: Sequence[str] = ()) -> str:
    inner = ",".join([*extra, *matchers])
    return f"{metric}{{{inner}}}" if inner else metric


def _by(labels: Sequence[str]) -> str:
    return f"by ({', '.join(labels)}) " if labels else ""


def _sum_increase(
    metric: str,
    labels: list[str],
    matchers: list[str],
    window: str,
    extra: Sequence[str] = (),
    fn: str = "increase",
) -> str:
    return f"sum {_by(labels)}({fn}({_sel(metric, matchers, extra)}[{window}]))"


def _metric_name(name: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_:]", "_", name)


def promql(rule: Rule) -> str:
    """The rule's condition as PromQL; raises :class:`NotExportable`."""
    c = rule.condition
    window = format_duration(c.window_ns)
    name = c.signal
    if name in ("error_rate", "error_count", "error_ratio"):
        labels = _labels_for(c, _BY_ALL)
        m = _matchers(c.where, _BY_ALL)
        if name == "error_rate":
            expr = _sum_increase("opencode_errors_total", labels, m, window, fn="rate")
        elif name == "error_count":
            expr = _sum_increase("opencode_errors_total", labels, m, window)
        else:
            calls = _sum_increase(
                "",
                labels,
                m,
                window,
                extra=[
                    '__name__=~"opencode_response_duration_seconds_count|opencode_tool_invocations_total"'
                ],
            )
            expr = f"{_sum_increase('opencode_errors_total', labels, m, window)} / ({calls} > 0)"
    elif name == "tool_error_ratio":
        allowed = ("stack_name", "tool")
        labels, m = _labels_for(c, allowed), _matchers(c.where, allowed)
        failed = _sum_increase(
            "opencode_tool_invocations_total", labels, m, window, ['success="false"']
        )
        total = _sum_increase("opencode_tool_invocations_total", labels, m, window)
        expr = f"({failed} or {total} * 0) / ({total} > 0)"
    elif name in ("tokens", "cost", "budget_utilization"):
        allowed = ("stack_name", "model")
        labels, m = _labels_for(c, allowed), _matchers(c.where, allowed)
        if name == "tokens":
            direction = c.params.get("direction", "total")
            extra = [] if direction == "total" else [f'direction="{direction}"']
            expr = _sum_increase("opencode_tokens_total", labels, m, window, extra)
        else:
            expr = _sum_increase("stacklens_cost_usd_total", labels, m, window)
            if name == "budget_utilization":
                expr = f"{expr} / {format_value(float(c.params['budget_usd']))}"
    elif name == "latency_quantile":
        if c.params.get("event_type", "llm_call") != "llm_call":
            raise NotExportable(
                "latency of non-LLM events: /metrics has a duration histogram for llm_call only"
            )
        allowed = ("stack_name", "model")
        labels, m = _labels_for(c, allowed), _matchers(c.where, allowed)
        buckets = _sum_increase(
            "opencode_response_duration_seconds_bucket", ["le", *labels], m, window, fn="rate"
        )
        expr = f"histogram_quantile({format_value(float(c.params['quantile']))}, {buckets})"
    elif name == "last_seen_age":
        if "min_heartbeats" in c.params:
            raise NotExportable("the regular-heartbeat test has no /metrics series")
        labels, m = _labels_for(c, _BY_ALL), _matchers(c.where, _BY_ALL)
        expr = (
            f"time() - max {_by(labels)}({_sel('stacklens_stack_last_seen_timestamp_seconds', m)})"
        )
    elif name == "stack_up":
        labels, m = _labels_for(c, _BY_ALL), _matchers(c.where, _BY_ALL)
        expr = f"min {_by(labels)}({_sel('stacklens_stack_up', m)})"
    elif name == "cache_hit_ratio":
        allowed = ("stack_name", "model")
        labels, m = _labels_for(c, allowed), _matchers(c.where, allowed)
        read = _sum_increase("opencode_tokens_total", labels, m, window, ['direction="cache_read"'])
        both = _sum_increase(
            "opencode_tokens_total", labels, m, window, ['direction=~"input|cache_read"']
        )
        expr = f"({read} or {both} * 0) / ({both} > 0)"
    elif name == "metric_value":
        labels = [dimension_label(d) for d in c.by if d not in ("name", "kind", "unit")]
        if len(labels) != len(c.by):
            raise NotExportable("by name/kind/unit: not Prometheus labels")
        if any(d in _PER_PRINCIPAL for d in c.by):
            _labels_for(c, ())
        m = _matchers(c.where, None)
        aggregate = c.params.get("aggregate", "last")
        outer = "max" if aggregate == "last" else aggregate

        def series(metric: str) -> str:
            inner = f"{aggregate}_over_time({_sel(_metric_name(metric), m)}[{window}])"
            return f"{outer} {_by(labels)}({inner})"

        expr = series(c.params["metric"])
        if c.params.get("divide_by"):
            expr = f"{expr} / ({series(c.params['divide_by'])} > 0)"
    else:
        reasons = {
            "event_count": "no /metrics counter counts every event",
            "event_rate": "no /metrics counter counts every event",
            "active_sessions": "opencode_active_sessions counts open sessions; the hub signal "
            "counts sessions seen in the window",
        }
        raise NotExportable(reasons.get(name, f"signal {name} has no PromQL equivalent"))
    return f"{expr} {c.op} {format_value(c.threshold)}"


def export_prometheus_rules(rules: RuleSet) -> tuple[str, list[tuple[str, str]]]:
    """``(rule file YAML, [(group/alert, reason not exported), ...])``."""
    skipped: list[tuple[str, str]] = []
    groups: list[dict[str, Any]] = []
    for group in rules.groups:
        exported: list[dict[str, Any]] = []
        for rule in group.rules:
            if not rule.enabled:
                continue
            try:
                expr = promql(rule)
            except NotExportable as exc:
                skipped.append((rule.key, str(exc)))
                continue
            item: dict[str, Any] = {"alert": rule.name, "expr": expr}
            if rule.for_ns:
                item["for"] = format_duration(rule.for_ns)
            if rule.keep_firing_for_ns:
                item["keep_firing_for"] = format_duration(rule.keep_firing_for_ns)
            if rule.labels:
                item["labels"] = dict(rule.labels)
            if rule.annotations:
                item["annotations"] = dict(rule.annotations)
            exported.append(item)
        if exported:
            groups.append(
                {
                    "name": group.name,
                    "interval": format_duration(group.interval_ns),
                    "rules": exported,
                }
            )
    header = [
        "# Generated by `stacklens rules export --format prometheus`.",
        "# PromQL over the stacklens hub's /metrics (scrape it with job stacklens).",
    ]
    if skipped:
        header.append("# Not exportable (evaluated by the hub only):")
        header.extend(f"#   {key}: {reason}" for key, reason in skipped)
    body = yaml.safe_dump({"groups": groups}, sort_keys=False, width=1000, allow_unicode=True)
    return "\n".join(header) + "\n" + body, skipped


def _route_yaml(route: Route, root: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"receiver": route.receiver}
    if not root and route.matchers:
        out["matchers"] = [_matcher_text(m) for m in route.matchers]
    out["group_by"] = list(route.group_by)
    out["group_wait"] = format_duration(route.group_wait_ns)
    out["group_interval"] = format_duration(route.group_interval_ns)
    out["repeat_interval"] = format_duration(route.repeat_interval_ns)
    if route.continue_:
        out["continue"] = True
    if route.routes:
        out["routes"] = [_route_yaml(child, False) for child in route.routes]
    return out


def _matcher_text(m: Matcher) -> str:
    return f"{m.name}{m.op}{_quote(m.value)}"


def _secret(value: Any, include: bool, kind: str) -> Any:
    if not isinstance(value, Secret):
        return value
    if include:
        return value.get()
    if kind == "url":
        return f"{redact_url(value.get())}/REDACTED"
    return "REDACTED"


def export_alertmanager_config(config: AlertingConfig, *, include_secrets: bool = False) -> str:
    receivers = []
    for name, integrations in config.receivers.items():
        entry: dict[str, Any] = {"name": name}
        for item in integrations:
            s = item.settings
            conf: dict[str, Any] = {"send_resolved": item.send_resolved}
            if item.kind == "webhook":
                conf["url"] = _secret(s["url"], include_secrets, "url")
                if s.get("max_alerts"):
                    conf["max_alerts"] = int(s["max_alerts"])
            elif item.kind == "slack":
                conf["api_url"] = _secret(s["api_url"], include_secrets, "url")
                for key in ("channel", "username"):
                    if s.get(key):
                        conf[key] = s[key]
                if s.get("text_prefix"):
                    conf["pretext"] = str(s["text_prefix"]).strip()
            elif item.kind == "email":
                conf["to"] = s["to"]
                for key in ("from", "smarthost", "auth_username", "hello"):
                    if s.get(key):
                        conf[key] = s[key]
                if s.get("auth_password"):
                    conf["auth_password"] = _secret(s["auth_password"], include_secrets, "text")
                conf["require_tls"] = bool(s.get("require_tls", True))
            elif item.kind == "pagerduty":
                conf["routing_key"] = _secret(s["routing_key"], include_secrets, "text")
                if s.get("url"):
                    conf["url"] = _secret(s["url"], include_secrets, "url")
                for key in ("severity", "client", "client_url", "source"):
                    if s.get(key):
                        conf[key] = s[key]
            entry.setdefault(f"{item.kind}_configs", []).append(conf)
        receivers.append(entry)
    document: dict[str, Any] = {"route": _route_yaml(config.route, True), "receivers": receivers}
    if config.inhibit_rules:
        document["inhibit_rules"] = [
            {
                "source_matchers": [_matcher_text(m) for m in r.source],
                "target_matchers": [_matcher_text(m) for m in r.target],
                **({"equal": list(r.equal)} if r.equal else {}),
            }
            for r in config.inhibit_rules
        ]
    header = "# Generated by `stacklens rules export --format alertmanager`.\n"
    if not include_secrets:
        header += (
            "# Secrets are placeholders (REDACTED): fill them in, "
            "or export with --include-secrets.\n"
        )
    return header + yaml.safe_dump(document, sort_keys=False, width=1000, allow_unicode=True)
