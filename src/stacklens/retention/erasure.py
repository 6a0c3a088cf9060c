"""Erasure of one user's data (``DELETE /api/v1/users/{user_id}``, ``stacklens users
erase``): the other half of the user's own export (seed 000 §5.3).

What goes, in one store transaction:

- raw events, logs and spans with the user's id (every raw table: the store's
  :meth:`~stacklens.store.base.Store.erase_user`);
- the user's session summaries;
- nothing of the billing amounts: the user's billing records (and billing
  adjustments) are folded into records under :data:`ERASED_USER`, the key otherwise
  the same, so every day's, stack's and model's totals stay what they were.

The spool not yet loaded: before erasing, everything acknowledged so far is loaded
(the hub's flush, as a backup does), so the user's rows still in the spool reach the
store and go with the rest; the answer counts them apart (``spool``). A request
acknowledged while the erasure runs is either loaded before the erasure's transaction
(and erased) or after it (and kept): data the user's stacks send once the erasure has
begun is new data, as it would be a second later. Quarantined rows (the store refused
them) are not touched.

``user_id`` is the stored pseudonym (``u_…``) or the raw id, which the hub
pseudonymizes as its export does; the audit record keeps the pseudonym only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, Final, Protocol

import msgspec

from stacklens.analytics.rollups import BILLING_ADJUSTMENTS, BILLING_DAILY, SESSION_SUMMARIES
from stacklens.ids import Clock, IdFactory
from stacklens.retention.audit import ErasureAudit, ErasureRecord
from stacklens.store.base import ErasureStep, QueryResult
from stacklens.store.base import Params as StatementParams
from stacklens.store.dialect import Dialect, Params

__all__ = [
    "ERASED_USER",
    "PSEUDONYM_PREFIX",
    "ErasingStore",
    "ErasureReport",
    "UserEraser",
    "erasure_steps",
    "user_candidates",
]

#: The user id billing records of an erased user keep (no pseudonym starts with ``~``).
ERASED_USER: Final = "~erased"
PSEUDONYM_PREFIX: Final = "u_"
_BILLING: Final = "billing_records_anonymized"


class ErasingStore(Protocol):
    @property
    def dialect(self) -> Dialect: ...

    def fetch(self, statement: str, params: StatementParams | None = None) -> QueryResult: ...

    def erase_user(
        self, user_ids: Sequence[str], steps: Sequence[ErasureStep] = ()
    ) -> dict[str, int]: ...


class ErasureReport(msgspec.Struct, frozen=True):
    user_id: str
    removed: dict[str, int]
    billing_records_anonymized: int
    audit_id: str


def user_candidates(
    user_id: str, pseudonymize: Callable[[str], str]
) -> tuple[str, tuple[str, ...]]:
    """(the pseudonym, every stored id to erase): a pseudonym stands for itself; a raw
    id means its pseudonym and, for a stack whose policy keeps ids in clear, itself."""
    if user_id.startswith(PSEUDONYM_PREFIX):
        return user_id, (user_id,)
    pseudonym = pseudonymize(user_id)
    return pseudonym, (pseudonym, user_id)


def _users(d: Dialect, user_ids: tuple[str, ...]) -> tuple[Params, str]:
    p = Params(d)
    return p, d.in_list("user_id", p("users", user_ids, "str_list"))


def erasure_steps(d: Dialect, user_ids: tuple[str, ...]) -> list[ErasureStep]:
    """The rollup statements of an erasure, in order: fold the users' billing records
    into :data:`ERASED_USER` ones (summing into a record already there), drop theirs,
    anonymize their billing adjustments, drop their session summaries."""
    p, users = _users(d, user_ids)
    marker = p("erased", ERASED_USER)
    *folds, moved = d.rollup_reassign(
        BILLING_DAILY.name,
        BILLING_DAILY.names,
        BILLING_DAILY.key,
        BILLING_DAILY.merges,
        "user_id",
        marker,
        users,
    )
    steps = [ErasureStep("", fold, _used(p, fold)) for fold in folds]
    steps.append(ErasureStep(_BILLING, moved, _used(p, moved), _count(BILLING_DAILY.name, users)))
    steps.append(
        ErasureStep(
            _BILLING,
            d.update_where(BILLING_ADJUSTMENTS.name, {"user_id": marker}, users),
            dict(p.values),
            _count(BILLING_ADJUSTMENTS.name, users),
        )
    )
    steps.append(
        ErasureStep(
            "session_summaries",
            d.rollup_delete(SESSION_SUMMARIES.name, SESSION_SUMMARIES.key, users),
            _only(p),
            _count(SESSION_SUMMARIES.name, users),
        )
    )
    return steps


def _count(table: str, users: str) -> str:
    """The rows a step will change, for a store whose writes report no count."""
    return f"SELECT count(*) FROM {table} WHERE {users}"


def _used(p: Params, statement: str) -> dict[str, Any]:
    """The parameters ``statement`` refers to (DuckDB refuses one it does not)."""
    return {k: v for k, v in p.values.items() if re.search(rf"\b{k}\b", statement)}


def _only(p: Params, name: str = "users") -> dict[str, Any]:
    return {name: p.values[name]}


def _raw_rows_sql(d: Dialect, user_ids: tuple[str, ...]) -> tuple[str, dict[str, Any]]:
    p, users = _users(d, user_ids)
    return f"SELECT count(*) FROM events WHERE {users}", p.values


class UserEraser:
    """Flush, erase in one transaction, write the audit record."""

    def __init__(
        self,
        store: ErasingStore,
        audit: ErasureAudit,
        *,
        flush: Callable[[], None],
        pseudonymize: Callable[[str], str],
        clock: Clock,
        new_id: IdFactory,
    ) -> None:
        self.store = store
        self.audit = audit
        self._flush = flush
        self._pseudonymize = pseudonymize
        self._clock = clock
        self._new_id = new_id

    def erase(self, user_id: str, *, key_id: str) -> ErasureReport:
        if not user_id.strip():
            raise ValueError("user_id must not be empty")
        pseudonym, ids = user_candidates(user_id, self._pseudonymize)
        d = self.store.dialect
        loaded_before = int(self.store.fetch(*_raw_rows_sql(d, ids)).scalar() or 0)
        self._flush()
        counts = self.store.erase_user(ids, erasure_steps(d, ids))
        events = counts.get("events", 0)
        removed = {
            "events": min(events, loaded_before),
            "session_summaries": counts.get("session_summaries", 0),
            # Rows acknowledged but still in the spool when the erasure began: the
            # flush loaded them, the transaction removed them.
            "spool": max(events - loaded_before, 0),
        }
        billing = counts.get(_BILLING, 0)
        record = ErasureRecord(
            audit_id=self._new_id(),
            at_ns=self._clock(),
            key_id=key_id,
            user_pseudonym=pseudonym,
            counts={**removed, _BILLING: billing},
        )
        self.audit.record(record)
        return ErasureReport(pseudonym, removed, billing, record.audit_id)
