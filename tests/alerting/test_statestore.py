"""The shared rule health (``alert_rule_health``) on each metadata engine: what the
leader saves a standby loads; an error text is scrubbed and bounded on its way in;
rules no longer configured are forgotten."""

from __future__ import annotations

from stacklens.alerting.statestore import AlertStateStore
from stacklens.metadata.db import MetadataDB

TOKEN = "ghp_" + "a1B2" * 9


def test_saved_health_loads_back_scrubbed_and_bounded(metadata_db: MetadataDB) -> None:
    store = AlertStateStore(metadata_db)
    ok = {"health": "ok", "last_error": None, "last_evaluation_ns": 5, "evaluation_ms": 1.5,
          "series": 3}  # fmt: skip
    failing = {**ok, "health": "err", "last_error": f"refused: {TOKEN} " + "x" * 900}
    store.save_health({"g/A": ok, "g/B": failing})
    store.save_health({"g/A": {**ok, "last_evaluation_ns": 6}})  # an upsert, not a second row
    loaded = AlertStateStore(metadata_db).load_health()
    assert loaded["g/A"] == {**ok, "last_evaluation_ns": 6}
    error = loaded["g/B"]["last_error"]
    assert TOKEN not in error and "[REDACTED:github]" in error
    assert len(error) == 500 and error.endswith("…")
    store.drop_rules_except(["g/A"])
    assert set(store.load_health()) == {"g/A"}
