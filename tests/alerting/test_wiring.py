"""Assembly: the Alertmanager URL setting adds a forward target beside the config's."""

from __future__ import annotations

from stacklens.alerting.config_file import parse_alerting_config
from stacklens.alerting.wiring import with_alertmanager_url


def test_alertmanager_url_adds_targets_once() -> None:
    config = parse_alerting_config("""
route: {receiver: none}
receivers: [{name: none}]
alertmanagers: [{url: 'http://am-a:9093', resend_delay: 5s}]
""")
    merged = with_alertmanager_url(config, ["http://am-a:9093/", "http://am-b:9093/", " "])
    assert [(t.url, t.resend_delay_ns) for t in merged.forward] == [
        ("http://am-a:9093", 5 * 10**9),
        ("http://am-b:9093", 60 * 10**9),
    ]
    assert with_alertmanager_url(config, ["http://am-a:9093"]) is config
