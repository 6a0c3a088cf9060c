"""The alerting configuration file: Alertmanager's shape (``global``, ``route``,
``receivers``, ``inhibit_rules``) plus ``alertmanagers`` (forward every alert to an
existing Alertmanager) and ``notify`` (retry policy).

Secrets (webhook URLs, SMTP passwords, PagerDuty routing keys) may be written as
``${ENV_VAR}``; they are held in :class:`Secret`, whose ``str``/``repr`` never shows the
value, and are shown only as scheme+host (:func:`redact_url`).

With no file, :data:`DEFAULT_CONFIG` routes by the severity channels of seed 003
(``#ai-platform-alerts``, ``-critical``, ``-gpu``, ``-drift``, ``-budget``, ``-infra``)
to the Slack webhook in ``STACKLENS_SLACK_WEBHOOK_URL`` when it is set.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from stacklens.alerting.config_model import (
    AlertingConfig,
    ForwardTarget,
    IntegrationConfig,
    NotifyPolicy,
)
from stacklens.alerting.config_secrets import Secret, redact_url
from stacklens.alerting.durations import parse_duration
from stacklens.alerting.routing import InhibitRule, Matcher, Route, parse_matcher
from stacklens.alerting.yamlnodes import FileError, Located, Problem, load_located

__all__ = [
    "DEFAULT_CONFIG",
    "AlertingConfig",
    "ForwardTarget",
    "IntegrationConfig",
    "NotifyPolicy",
    "Secret",
    "load_alerting_config",
    "parse_alerting_config",
    "redact_url",
]

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
SECRET_FIELDS: Final = frozenset(
    {"url", "api_url", "routing_key", "service_key", "auth_password", "auth_secret"}
)
_KINDS: Final = {
    "webhook_configs": ("webhook", True),
    "slack_configs": ("slack", False),
    "email_configs": ("email", False),
    "pagerduty_configs": ("pagerduty", True),
}
_DURATIONS: Final = ("group_wait", "group_interval", "repeat_interval")


#: The packaged routing used when no alerting config file is given (``default_config.yaml``).
DEFAULT_CONFIG: Final = (
    resources.files("stacklens.alerting").joinpath("default_config.yaml").read_text()
)


class _Parser:
    def __init__(self, environ: Mapping[str, str], optional_env: bool) -> None:
        self.problems: list[Problem] = []
        self.environ = environ
        self.optional_env = optional_env

    def add(self, line: int, message: str) -> None:
        self.problems.append(Problem(line, message))

    def expand(self, node: Located) -> str | None:
        """A string with ``${VAR}`` expanded; ``None`` when a variable is unset."""
        text = str(node.value)
        missing = [name for name in _ENV.findall(text) if not self.environ.get(name)]
        if missing:
            if not self.optional_env:
                self.add(node.line, f"environment variable {missing[0]} is not set")
            return None
        return _ENV.sub(lambda m: self.environ[m.group(1)], text)

    def duration(self, node: Located | None, default: int) -> int:
        if node is None:
            return default
        try:
            return parse_duration(str(node.value))
        except ValueError as exc:
            self.add(node.line, str(exc))
            return default

    def matchers(self, node: Located) -> tuple[Matcher, ...]:
        out: list[Matcher] = []
        for key, kind in (("matchers", None), ("match", "="), ("match_re", "=~")):
            value = node.get(key)
            if value is None:
                continue
            if kind is None:
                if not value.is_list():
                    self.add(
                        value.line, 'matchers must be a list of strings like severity="critical"'
                    )
                    continue
                for item in value.value:
                    try:
                        out.append(parse_matcher(str(item.value)))
                    except ValueError as exc:
                        self.add(item.line, str(exc))
            elif value.is_map():
                for name, item in value.value.items():
                    try:
                        out.append(Matcher(name, kind, str(item.value)))
                    except ValueError as exc:
                        self.add(item.line, str(exc))
            else:
                self.add(value.line, f"{key} must be a mapping")
        return tuple(out)

    def route(self, node: Located, parent: Route | None) -> Route:
        if not node.is_map():
            self.add(node.line, "a route must be a mapping")
            return parent or Route(receiver="")
        get = node.get
        matchers = self.matchers(node) if parent is not None else ()
        receiver_node = get("receiver")
        receiver = (
            str(receiver_node.value) if receiver_node else (parent.receiver if parent else "")
        )
        if parent is None and not receiver:
            self.add(node.line, "the root route needs a receiver")
        group_by_node = get("group_by")
        group_by = parent.group_by if parent else ("alertname",)
        if group_by_node is not None:
            if not group_by_node.is_list():
                self.add(group_by_node.line, "group_by must be a list")
            else:
                group_by = tuple(str(v.value) for v in group_by_node.value)
        timings = {
            name: self.duration(get(name), getattr(parent, f"{name}_ns") if parent else default)
            for name, default in zip(
                _DURATIONS, (30 * 10**9, 5 * 60 * 10**9, 4 * 3600 * 10**9), strict=True
            )
        }
        continue_node = get("continue")
        key = "{" + ",".join(str(m) for m in matchers) + "}"
        route = Route(
            receiver=receiver,
            group_by=group_by,
            group_wait_ns=timings["group_wait"],
            group_interval_ns=timings["group_interval"],
            repeat_interval_ns=timings["repeat_interval"],
            matchers=matchers,
            continue_=bool(continue_node.value) if continue_node else False,
            key=f"{parent.key}/{key}" if parent else "{}",
        )
        if route.group_interval_ns <= 0 or route.repeat_interval_ns <= 0:
            self.add(node.line, "group_interval and repeat_interval must be longer than 0s")
        children_node = get("routes")
        if children_node is not None:
            if not children_node.is_list():
                self.add(children_node.line, "routes must be a list")
            else:
                children = tuple(self.route(c, route) for c in children_node.value)
                route = Route(**{**route.__dict__, "routes": children})
        return route

    def integration(
        self, kind_key: str, receiver: str, index: int, node: Located
    ) -> IntegrationConfig | None:
        kind, resolved_default = _KINDS[kind_key]
        if not node.is_map():
            self.add(node.line, f"{kind_key} entries must be mappings")
            return None
        settings: dict[str, Any] = {}
        for key, value in node.value.items():
            if key == "send_resolved":
                continue
            if value.is_list():
                settings[key] = [self.expand(v) for v in value.value]
            elif isinstance(value.value, str):
                expanded = self.expand(value)
                if expanded is None:
                    return None  # an unset optional secret: no integration
                settings[key] = Secret(expanded) if key in SECRET_FIELDS else expanded
            else:
                settings[key] = value.value
        required = {
            "webhook": "url",
            "slack": "api_url",
            "pagerduty": "routing_key",
            "email": "to",
        }[kind]
        if kind == "pagerduty" and "service_key" in settings:
            self.add(
                node.line, "PagerDuty Events API v1 (service_key) is not supported: use routing_key"
            )
            return None
        if required not in settings:
            self.add(node.line, f"{kind_key} needs {required}")
            return None
        for key in ("url", "api_url"):
            value = settings.get(key)
            if isinstance(value, Secret) and not urlsplit(value.get()).scheme.startswith("http"):
                self.add(node.value[key].line, f"{key} must be an http(s) URL")
        resolved = node.get("send_resolved")
        return IntegrationConfig(
            kind,
            receiver,
            index,
            bool(resolved.value) if resolved is not None else resolved_default,
            settings,
        )


def parse_alerting_config(
    text: str,
    *,
    source: str = "",
    environ: Mapping[str, str] | None = None,
    optional_env: bool = False,
) -> AlertingConfig:
    """Parse and validate; raise :class:`FileError` listing every problem by line.
    ``optional_env``: an integration whose ``${VAR}`` is unset is dropped (defaults)."""
    parser = _Parser(os.environ if environ is None else environ, optional_env)
    root = load_located(text)
    if not root.is_map():
        raise FileError([Problem(root.line, "the file must be a mapping")], source)
    known = {
        "global",
        "route",
        "receivers",
        "inhibit_rules",
        "alertmanagers",
        "notify",
        "templates",
    }
    for key, value in root.value.items():
        if key not in known:
            parser.add(value.line, f"unknown top-level field {key!r}")
    global_node = root.get("global")
    globals_ = global_node.plain() if global_node is not None and global_node.is_map() else {}
    route_node = root.get("route")
    if route_node is None:
        raise FileError([Problem(root.line, "the file needs a `route:`")], source)
    route = parser.route(route_node, None)
    receivers: dict[str, tuple[IntegrationConfig, ...]] = {}
    receivers_node = root.get("receivers")
    for node in (
        receivers_node.value if receivers_node is not None and receivers_node.is_list() else []
    ):
        name_node = node.get("name")
        if name_node is None:
            parser.add(node.line, "a receiver needs a name")
            continue
        name = str(name_node.value)
        if name in receivers:
            parser.add(name_node.line, f"duplicate receiver {name!r}")
        items: list[IntegrationConfig] = []
        for key, value in node.value.items():
            if key == "name":
                continue
            if key not in _KINDS:
                parser.add(
                    value.line, f"unsupported receiver field {key!r} (use {', '.join(_KINDS)})"
                )
                continue
            for index, item in enumerate(value.value if value.is_list() else []):
                integration = parser.integration(key, name, index, item)
                if integration is not None:
                    if integration.kind == "email":
                        integration = _email_defaults(integration, globals_)
                    items.append(integration)
        receivers[name] = tuple(items)
    _check_receivers(route, receivers, route_node, parser)
    inhibit: list[InhibitRule] = []
    inhibit_node = root.get("inhibit_rules")
    for node in inhibit_node.value if inhibit_node is not None and inhibit_node.is_list() else []:
        source_m = parser.matchers(
            Located(
                {
                    "matchers": node.get("source_matchers") or Located([], node.line),
                    "match": node.get("source_match") or Located({}, node.line),
                },
                node.line,
            )
        )
        target_m = parser.matchers(
            Located(
                {
                    "matchers": node.get("target_matchers") or Located([], node.line),
                    "match": node.get("target_match") or Located({}, node.line),
                },
                node.line,
            )
        )
        equal_node = node.get("equal")
        equal = (
            tuple(str(v.value) for v in equal_node.value)
            if equal_node and equal_node.is_list()
            else ()
        )
        inhibit.append(InhibitRule(source_m, target_m, equal))
    forward: list[ForwardTarget] = []
    forward_node = root.get("alertmanagers")
    for node in forward_node.value if forward_node is not None and forward_node.is_list() else []:
        url_node = node.get("url")
        if url_node is None:
            parser.add(node.line, "an alertmanagers entry needs url")
            continue
        url = parser.expand(url_node) or ""
        timeout = parser.duration(node.get("timeout"), 10 * 10**9) / 1e9
        forward.append(
            ForwardTarget(
                url.rstrip("/"), parser.duration(node.get("resend_delay"), 60 * 10**9), timeout
            )
        )
    notify_node = root.get("notify")
    notify = NotifyPolicy()
    if notify_node is not None and notify_node.is_map():
        attempts = notify_node.get("max_attempts")
        notify = NotifyPolicy(
            max_attempts=int(attempts.value) if attempts is not None else notify.max_attempts,
            backoff_initial_s=parser.duration(notify_node.get("backoff_initial"), 10**9) / 1e9,
            backoff_max_s=parser.duration(notify_node.get("backoff_max"), 30 * 10**9) / 1e9,
            timeout_s=parser.duration(notify_node.get("timeout"), 10 * 10**9) / 1e9,
        )
        if not 1 <= notify.max_attempts <= 20:
            parser.add(notify_node.line, "notify.max_attempts must be between 1 and 20")
    if parser.problems:
        raise FileError(parser.problems, source)
    return AlertingConfig(
        route=route,
        receivers=receivers,
        inhibit_rules=tuple(inhibit),
        forward=tuple(forward),
        notify=notify,
        external_url=str(globals_.get("external_url", "http://127.0.0.1:4320")).rstrip("/"),
        globals=globals_,
    )


def _email_defaults(
    integration: IntegrationConfig, globals_: Mapping[str, Any]
) -> IntegrationConfig:
    settings = dict(integration.settings)
    for key in ("smarthost", "from", "auth_username", "auth_password", "require_tls", "hello"):
        if key not in settings and f"smtp_{key}" in globals_:
            value = globals_[f"smtp_{key}"]
            settings[key] = Secret(str(value)) if key in SECRET_FIELDS else value
    return IntegrationConfig(
        integration.kind,
        integration.receiver,
        integration.index,
        integration.send_resolved,
        settings,
    )


def _check_receivers(
    route: Route, receivers: Mapping[str, Any], node: Located, parser: _Parser
) -> None:
    if route.receiver and route.receiver not in receivers:
        parser.add(node.line, f"route uses undefined receiver {route.receiver!r}")
    children = node.get("routes")
    for child, child_node in zip(route.routes, children.value if children else [], strict=False):
        _check_receivers(child, receivers, child_node, parser)


def load_alerting_config(
    path: Path | None, environ: Mapping[str, str] | None = None
) -> AlertingConfig:
    """The file at ``path``, or :data:`DEFAULT_CONFIG` when ``None``."""
    if path is None:
        return parse_alerting_config(
            DEFAULT_CONFIG, source="<default>", environ=environ, optional_env=True
        )
    return parse_alerting_config(path.read_text(), source=str(path), environ=environ)
