"""Rollup reads that do not fold every key first stay exact when a key's figures come
from several loads (issue 15, ClickHouse read path).

ClickHouse keeps one contribution per load and key under a folding view; the reads
sum the contributions directly (:meth:`Dialect.rollup_sums_source`), fold only the
billing records of models whose contributions disagree on being unpriced
(:meth:`Dialect.rollup_disagreeing`, run first) and only the sessions with a recent contribution
(:meth:`Dialect.rollup_keys_with`). Each figure below needs the folded record or
session to come out right: worked out by hand from the three loads, on every backend.

Loads (UTC, ``NOW`` = 2026-01-15 12:00; stack alpha, agent ``a``):

====  ====  =================================================================
load  id    event
====  ====  =================================================================
1     o1    session_start, session ``old``, user u3, 2026-01-13 00:00
1     o2    message, ``old``, u3, 00:01 that day
1     l0    session_start, session ``long``, user u1, 2026-01-14 20:00
1     b1    llm_call ``long`` u1, mix/p, 10:10, in 100 out 10, $1.00
1     b2    llm_call ``other`` u2, mix/p, 10:20, in 40 out 4, unpriced
1     b3    llm_call ``long`` u1, lone/q, 10:30, in 7 out 1, unpriced
2     b4    llm_call ``long`` u1, mix/p, 10:40, in 200 out 20, unpriced
2     b5    llm_call ``long`` u1, lone/q, 10:50, in 3 out 1, unpriced
3     m1    message ``long`` u1, 11:00
====  ====  =================================================================

Billing records of today: (u1, mix) = b1 + b4: 2 calls, 1 unpriced — priced, so its
unpriced-call tokens are not "unpriced tokens" (b4's load alone would say they are);
(u2, mix) = b2: all unpriced; (u1, lone) = b3 + b5: all unpriced.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest

from stacklens.analytics import costs, sessions
from stacklens.analytics.analytics_service import Analytics
from stacklens.analytics.queries import Filters
from stacklens.schema import EventRow
from stacklens.store.clickhouse_dialect import CLICKHOUSE
from stacklens.testing.backends import BACKENDS, Backend, backend_id

S = 10**9
HOUR = 3600 * S
DAY0 = 1_768_435_200 * S  # 2026-01-15T00:00:00Z
NOW = DAY0 + 12 * HOUR
TODAY = Filters(since_ns=DAY0, until_ns=DAY0 + 24 * HOUR)


def at(hour: int, minute: int = 0, day: int = 0) -> int:
    return DAY0 + day * 24 * HOUR + (hour * 60 + minute) * 60 * S


def ev(event_id: str, ts: int, event_type: str, **fields: Any) -> EventRow:
    return EventRow(
        event_id=event_id,
        ts=ts,
        stack_name="alpha",
        event_type=event_type,
        received_ns=NOW,
        **fields,
    )


LONG = {"session_id": "long", "user_id": "u1"}
MIX = {"model": "mix", "provider": "p", "agent": "a"}
LONE = {"model": "lone", "provider": "q", "agent": "a"}

LOADS = [
    [
        ev("o1", at(0, 0, day=-2), "session_start", session_id="old", user_id="u3"),
        ev("o2", at(0, 1, day=-2), "message", role="user", session_id="old", user_id="u3"),
        ev("l0", at(20, 0, day=-1), "session_start", **LONG),
        ev("b1", at(10, 10), "llm_call", tokens_in=100, tokens_out=10, cost_usd=1.0, **LONG, **MIX),
        ev(
            "b2",
            at(10, 20),
            "llm_call",
            tokens_in=40,
            tokens_out=4,
            session_id="other",
            user_id="u2",
            **MIX,
        ),
        ev("b3", at(10, 30), "llm_call", tokens_in=7, tokens_out=1, **LONG, **LONE),
    ],
    [
        ev("b4", at(10, 40), "llm_call", tokens_in=200, tokens_out=20, **LONG, **MIX),
        ev("b5", at(10, 50), "llm_call", tokens_in=3, tokens_out=1, **LONG, **LONE),
    ],
    [ev("m1", at(11, 0), "message", role="user", agent="a", **LONG)],
]


@pytest.fixture(scope="module", params=BACKENDS, ids=backend_id)
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backend]:
    loaded: Backend = request.param(tmp_path_factory.mktemp("rollup-reads"))
    for rows in LOADS:
        loaded.load(rows)
    yield loaded
    loaded.store.close()


@pytest.fixture
def analytics(backend: Backend) -> Analytics:
    return Analytics(backend.store, clock=lambda: NOW)


def figures(row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(
        row[k]
        for k in (
            "calls",
            "tokens_in",
            "tokens_out",
            "cost_usd",
            "unpriced",
            "unpriced_tokens_in",
            "unpriced_tokens_out",
        )
    )


def test_cost_by_model_folds_the_records_whose_loads_disagree(analytics: Analytics) -> None:
    body = analytics.costs(TODAY, "model")
    by_model = {r["model"]: figures(r) for r in body["rows"]}
    assert by_model == {
        # (u1, mix) is priced as a whole: only (u2, mix)'s tokens are unpriced tokens
        "mix": (3, 340, 34, pytest.approx(1.0), 2, 40, 4),
        # both loads unpriced: no cost, all of its tokens unpriced
        "lone": (2, 10, 2, None, 2, 10, 2),
    }
    assert [r["model"] for r in body["rows"]] == ["mix", "lone"]  # by cost
    assert figures(body["total"]) == (5, 350, 36, pytest.approx(1.0), 4, 50, 6)
    assert body["projection"]["today_usd"] == pytest.approx(1.0)
    assert body["projection"]["month_to_date_usd"] == pytest.approx(1.0)


def test_cost_by_user_and_users(analytics: Analytics) -> None:
    rows = {r["user_id"]: figures(r) for r in analytics.costs(TODAY, "user_id")["rows"]}
    assert rows == {
        "u1": (4, 310, 32, pytest.approx(1.0), 3, 10, 2),
        "u2": (1, 40, 4, None, 1, 40, 4),
    }
    users = {r["user_id"]: (r["calls"], r["sessions"]) for r in analytics.users(TODAY)}
    assert users == {"u1": (4, 1), "u2": (1, 1)}


def test_a_filtered_read_compares_only_the_records_it_reads(analytics: Analytics) -> None:
    # For u2 alone, mix has one record whose one load is unpriced: its tokens are
    # unpriced tokens. For u1 alone, mix still disagrees across loads (b1 priced, b4
    # not) and its record is folded: priced, so none of its tokens are.
    u2 = msgspec.structs.replace(TODAY, user="u2")
    assert {r["model"]: figures(r) for r in analytics.costs(u2, "model")["rows"]} == {
        "mix": (1, 40, 4, None, 1, 40, 4)
    }
    u1 = msgspec.structs.replace(TODAY, user="u1")
    assert {r["model"]: figures(r) for r in analytics.costs(u1, "model")["rows"]} == {
        "mix": (2, 300, 30, pytest.approx(1.0), 1, 0, 0),
        "lone": (2, 10, 2, None, 2, 10, 2),
    }


def test_the_agreement_check_reads_only_the_filtered_contributions() -> None:
    # Billing is kept 7 years: the check of which models' loads disagree must scan
    # the read's days (and stacks, user), not every contribution ever stored.
    found = costs.mixed_models(CLICKHOUSE, msgspec.structs.replace(TODAY, user="u1"))
    assert found is not None
    checks = re.findall(r"FROM billing_daily__parts WHERE (.*?) GROUP BY model HAVING", found[0])
    assert len(checks) == 1, found[0]
    assert "day >= " in checks[0] and "day <= " in checks[0]
    assert "user_id = {user:String}" in checks[0]


def test_a_read_folds_only_the_models_the_check_found() -> None:
    # Nothing mixed: the read sums contributions and never touches the folding view;
    # a model found mixed is folded from it, and only that model.
    f = msgspec.structs.replace(TODAY, user="u1")
    plain, _ = costs.cost_by(CLICKHOUSE, f, "model", mixed=())
    assert "FROM billing_daily " not in plain and "has(" not in plain
    folding, values = costs.cost_by(CLICKHOUSE, f, "model", mixed=("mix",))
    assert "FROM billing_daily WHERE has({mixed:Array(String)}, model)" in folding
    assert values["mixed"] == ["mix"]


def test_only_disagreeing_models_are_found(analytics: Analytics) -> None:
    # mix: b1 priced beside b4 unpriced (across loads); lone: b3 and b5 both unpriced.
    expected = ("mix",) if analytics.d is CLICKHOUSE else ()
    assert analytics.mixed_models(TODAY) == expected
    assert analytics.mixed_models(msgspec.structs.replace(TODAY, user="u2")) == ()


def test_unpriced_models_and_overview_cost(analytics: Analytics) -> None:
    # mix: b2 and b4 unpriced (b4 inside a priced record still counts as one call)
    assert analytics.unpriced(TODAY) == [
        {"provider": "q", "model": "lone", "events": 2, "last_day": "2026-01-15"},
        {"provider": "p", "model": "mix", "events": 2, "last_day": "2026-01-15"},
    ]
    assert analytics.overview(TODAY)["cost"] == pytest.approx(1.0)


def test_hourly_sums_add_every_load(analytics: Analytics) -> None:
    rows = analytics.series(TODAY, ("llm_calls", "tokens_in", "messages"), group_by="model")
    got = {(r["time"], r["model"]): (r["llm_calls"], r["tokens_in"], r["messages"]) for r in rows}
    assert got == {
        ("2026-01-15T10:00:00.000000Z", "mix"): (3, 340, 0),
        ("2026-01-15T10:00:00.000000Z", "lone"): (2, 10, 0),
        ("2026-01-15T11:00:00.000000Z", None): (0, 0, 1),
    }
    tokens = {
        r["model"]: (r["tokens_in"], r["llm_calls"], r["cost_usd"]) for r in analytics.tokens(TODAY)
    }
    assert tokens == {"mix": (340, 3, pytest.approx(1.0)), "lone": (10, 2, None)}


def test_a_session_in_the_window_is_read_whole(analytics: Analytics) -> None:
    def listed(f: Filters) -> dict[str, tuple[Any, ...]]:
        return {
            s["session_id"]: (s["events"], s["llm_calls"], s["tokens_in"], s["start"], s["last"])
            for s in analytics.sessions(f)
        }

    whole = (6, 4, 310, "2026-01-14T20:00:00.000000Z", "2026-01-15T11:00:00.000000Z")
    assert listed(TODAY) == {
        "long": whole,
        "other": (1, 1, 40, None, "2026-01-15T10:20:00.000000Z"),
    }
    # Since 10:45 only load 2 and 3 of "long" have events, and "other" none: the
    # session still comes with load 1's events, start and tokens.
    late = Filters(since_ns=at(10, 45), until_ns=at(12))
    assert listed(late) == {"long": whole}
    assert [s["session_id"] for s in analytics.sessions(TODAY)] == ["other", "long"]


def test_active_sessions_count_sessions_with_a_recent_event(backend: Backend) -> None:
    def active(window_s: int) -> list[tuple[Any, ...]]:
        query = sessions.active_sessions(backend.store.dialect, NOW, window_s)
        return backend.store.fetch(*query).rows

    assert active(3600) == [("alpha", 1)]  # "long": open, last event 11:00
    assert active(1800) == []
    assert active(3 * 86400) == [("alpha", 3)]


def test_the_users_session_count_folds_only_sessions_of_several_loads() -> None:
    # Folding every session of the window was most of the users page's time on
    # ClickHouse: the count reads single-load sessions from the parts, as they are.
    sql, _ = costs.user_sessions(CLICKHOUSE, TODAY)
    parts, folded = sql.split(" UNION ALL ")
    assert "FROM session_summaries__parts WHERE NOT has(" in parts
    assert "FROM session_summaries WHERE NOT (NOT has(" in folded
