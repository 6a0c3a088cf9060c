"""Event storage: the ``Store`` protocol and its backends."""

from stacklens.store.base import EventQuery, LoadResult, Reader, StagedRows, Store

__all__ = ["EventQuery", "LoadResult", "Reader", "StagedRows", "Store"]
