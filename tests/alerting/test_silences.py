"""Silences confined to a stack: the enforced ``stack_name`` equality matcher, refused
matchers that reach another stack, and listing/expiry limited to the stack's own."""

from __future__ import annotations

import pytest

from stacklens.alerting.routing import Matcher, parse_matcher
from stacklens.alerting.silences import SilenceStore, confine_to_stack
from stacklens.metadata.db import MetadataDB
from stacklens.testing import ManualClock

H = 3600 * 10**9
ALPHA = Matcher("stack_name", "=", "alpha")


def test_confine_adds_the_stack_matcher() -> None:
    assert confine_to_stack([parse_matcher('alertname=~".+"')], "alpha") == (
        ALPHA,
        Matcher("alertname", "=~", ".+"),
    )
    assert confine_to_stack([ALPHA], "alpha") == (ALPHA,)
    assert confine_to_stack([parse_matcher('a="b"')], None) == (Matcher("a", "=", "b"),)


@pytest.mark.parametrize(
    "text", ['stack_name="bravo"', 'stack_name=~".+"', 'stack_name!="alpha"', 'stack_name=~"alpha"']
)
def test_confine_refuses_other_stacks(text: str) -> None:
    with pytest.raises(PermissionError, match="stack_name"):
        confine_to_stack([parse_matcher(text)], "alpha")


def test_store_scopes_add_list_and_expire(metadata_db: MetadataDB, clock: ManualClock) -> None:
    store = SilenceStore(metadata_db, clock=clock)
    bravo = store.add(['stack_name="bravo"'], duration_ns=H)
    everyone = store.add(['alertname="X"'], duration_ns=H)
    mine = store.add(['alertname=~".+"'], duration_ns=H, stack="alpha")
    assert mine.matches({"alertname": "X", "stack_name": "alpha"})
    assert not mine.matches({"alertname": "X", "stack_name": "bravo"})
    assert [s.id for s in store.list(stack="alpha")] == [mine.id]
    assert {s.id for s in store.list()} == {bravo.id, everyone.id, mine.id}
    assert not store.expire(bravo.id, stack="alpha")
    assert not store.expire(everyone.id, stack="alpha")
    assert {s.id for s in store.active()} == {bravo.id, everyone.id, mine.id}
    assert store.expire(mine.id, stack="alpha")
    assert {s.id for s in store.active()} == {bravo.id, everyone.id}
    with pytest.raises(PermissionError):
        store.add(['stack_name="bravo"'], duration_ns=H, stack="alpha")
