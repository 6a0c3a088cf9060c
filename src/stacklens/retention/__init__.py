"""Retention: how long each tier of data is kept, and the job that enforces it.

- :mod:`.tiers`: the tiers and their periods (defaults, validation, per-stack overrides);
- :mod:`.policy_file`: the policy a hub runs with (settings + the policy file);
- :mod:`.expiry`: what expires when, and the SQL that removes it;
- :mod:`.job`: the background job (``run_once`` and its report);
- :mod:`.guard`: raw-backed figures refuse windows past raw retention; the ingest
  door's oldest-event limits.
"""
