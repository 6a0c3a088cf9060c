"""Authorization of state changes and of alert metadata, in one place.

Every state-changing route (API and console) names its scope here instead of checking
the role by hand, so a stack-bound key can never reach another stack by a route that
forgot to look at ``principal.stack``:

- ``stack``: the change is to one named stack (a budget): a bound key only its own.
- ``global``: the change touches every stack (a cost backfill, API keys, stacks): a key
  bound to a stack is refused.
- ``confined``: the change is confined to the key's stack by the store it goes through
  (silences: ``SilenceStore`` is given the key's stack, which it enforces as a
  ``stack_name`` equality matcher and to which it limits listing and expiry).

The pure checks raise :class:`Forbidden`; :func:`mutation` wraps them as a FastAPI
dependency (marked so a test can verify every state-changing route declares one), and
the console's form handler calls :func:`authorize` with the session's principal.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any, Final, Literal

from fastapi import Depends, HTTPException, Request

from stacklens.api.auth import require
from stacklens.metadata.keys import Principal, Role

__all__ = [
    "Forbidden",
    "Scope",
    "authorize",
    "group_in_stack",
    "labels_visible",
    "mutation",
]

Scope = Literal["stack", "global", "confined"]
#: The attribute :func:`mutation` sets on its dependency (what the route audit looks for).
MARK: Final = "__stacklens_mutation_scope__"


class Forbidden(Exception):
    """The principal may not make this change (HTTP 403)."""


def authorize(principal: Principal, scope: Scope, stack: str | None = None) -> None:
    """An admin key may change ``stack`` (scope ``stack``), every stack (``global``) or
    its own stack through a confining store (``confined``); :class:`Forbidden` otherwise."""
    if principal.role != Role.ADMIN:
        raise Forbidden(f"a {principal.role} key cannot change anything (admin only)")
    bound = principal.stack
    if bound is None:
        return
    if scope == "global":
        raise Forbidden(f"this key is bound to stack {bound!r}; this change needs an unbound key")
    if scope == "stack" and stack != bound:
        raise Forbidden(f"this key can change stack {bound!r} only")


def labels_visible(principal: Principal, labels: Mapping[str, Any]) -> bool:
    return principal.stack is None or labels.get("stack_name") == principal.stack


def group_in_stack(principal: Principal, group_key: str) -> bool:
    """Whether a notification group (Alertmanager's ``route key:{labels}``) is confined
    to the key's stack: its key carries ``stack_name="<stack>"`` as a whole label or
    equality matcher. Groups not split by stack may mix stacks, so a bound key does
    not see them."""
    if principal.stack is None:
        return True
    label = re.escape(f"stack_name={json.dumps(principal.stack)}")
    return re.search(rf"(?:^|[{{,]\s*){label}\s*(?:[,}}]|$)", group_key) is not None


def mutation(scope: Scope, stack_param: str | None = None) -> Callable[..., Principal]:
    """A FastAPI dependency: the request's principal, authorized for ``scope``
    (``stack`` reads the stack from the path parameter ``stack_param``)."""
    admin = require("admin")

    # A default, not ``Annotated``: with postponed annotations FastAPI could not resolve
    # the closure's ``admin`` from a string annotation.
    def dependency(request: Request, principal: Principal = Depends(admin)) -> Principal:  # noqa: B008
        stack = request.path_params.get(stack_param) if stack_param else None
        try:
            authorize(principal, scope, stack)
        except Forbidden as exc:
            raise HTTPException(403, str(exc)) from None
        return principal

    setattr(dependency, MARK, scope)
    return dependency
