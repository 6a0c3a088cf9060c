"""Event storage: the ``Store`` protocol and its backends."""

from stacklens.store.base import EventQuery, LoadResult, Store

__all__ = ["EventQuery", "LoadResult", "Store"]
