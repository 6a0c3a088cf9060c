"""Every metadata table declared in code, on the one shared ``MetaData``.

Parts of the hub declare their tables in their own modules (alerting, budgets, the
erasure audit, console sessions); this gathers them for what compares the declared
schema with the migrated one: the schema test, and autogenerating a new revision.
Nothing at run time needs it: the migrations create the tables.
"""

from __future__ import annotations

import importlib
from typing import Final

import sqlalchemy as sa

__all__ = ["DECLARING_MODULES", "declared_metadata"]

#: The modules that declare metadata tables (each adds its own to the shared MetaData).
DECLARING_MODULES: Final = (
    "stacklens.metadata.tables",
    "stacklens.alerting.alert_tables",
    "stacklens.analytics.budgets",
    "stacklens.retention.audit",
    "stacklens.web.session",
)


def declared_metadata() -> sa.MetaData:
    for name in DECLARING_MODULES:
        importlib.import_module(name)  # for the side effect: its tables join the MetaData
    from stacklens.metadata.tables import metadata

    return metadata
