"""Alerting: rules over the hub's data, split the way Prometheus and Alertmanager
split it.

Evaluation (Prometheus' half): ``rules`` (rule files), ``signals`` (the signal catalog
and its SQL), ``state`` (the state machine), ``statestore`` (its persistence),
``health_probe``, ``evaluator`` (the loop's evaluation pass). It hands firing and
resolved alerts to a ``notify`` function (``notify``: the contract and fan-out).

Notification (Alertmanager's half): ``manager`` (the notify entry point),
``routing``/``dispatch`` (routes, groups, inhibition), ``silences``, ``notify_log``,
``notifier``/``delivery`` (retries), ``receivers``; ``forwarding`` posts to an external
Alertmanager instead of (or besides) the manager.

Around them: ``alerting_service`` (the hub's facade and loop), ``wiring`` (assembly),
``config_file``/``config_model``/``config_secrets`` (the alerting config file),
``message_templates``, ``instruments`` (metrics), ``alert_tables``,
``prometheus_export`` (Prometheus rules, Alertmanager config).

Submodules are imported by path; this package imports nothing, so importing the
evaluator does not load routing.
"""
