"""What the console reads and changes: the hub's parts it is given, as a Protocol.

The console is installed by the composition root with an object that has these
attributes; it never imports the module that builds the hub.
"""

from __future__ import annotations

from typing import Protocol

from stacklens.alerting.alerting_service import AlertingService
from stacklens.analytics.analytics_service import Analytics
from stacklens.analytics.budgets import BudgetStore
from stacklens.api.alerts import AlertStores
from stacklens.ids import Clock
from stacklens.metadata.db import MetadataDB
from stacklens.metadata.keys import KeyRing
from stacklens.metadata.stacks import StackRegistry
from stacklens.retention.status import RetentionView
from stacklens.store.base import Store

__all__ = ["ConsoleHub"]


class ConsoleHub(Protocol):
    @property
    def clock(self) -> Clock: ...
    @property
    def analytics(self) -> Analytics: ...
    @property
    def store(self) -> Store: ...
    @property
    def budgets(self) -> BudgetStore: ...
    @property
    def keyring(self) -> KeyRing: ...
    @property
    def stacks(self) -> StackRegistry: ...
    @property
    def metadata(self) -> MetadataDB: ...
    #: The alerting service, or ``None`` when alerting is off.
    @property
    def alerts(self) -> AlertingService | None: ...
    #: Alert history and silences, with alerting on or off.
    @property
    def alert_stores(self) -> AlertStores: ...
    #: What each retention tier keeps (the admin page's table).
    @property
    def retention_status(self) -> RetentionView: ...
