"""Per-request cost bounds: how many items, attributes per item and how deeply nested
attribute values one request may carry.

The body-size limit alone does not bound the CPU a request costs: 10 MB of small OTLP
JSON spans is 30,000 items to decode and run through the pipeline. These bounds are
checked as soon as the format allows (after the fast C parse, before the per-item
Python work) and refuse the whole request: too many items is a 413 (split the batch),
an item past the attribute or nesting bound a 400; both name the limit and its setting.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from stacklens.config import HubConfig

__all__ = [
    "DEFAULT_REQUEST_LIMITS",
    "RequestLimitError",
    "RequestLimits",
    "check_attributes",
    "check_items",
    "depth_error",
    "request_limits",
]


class RequestLimits(NamedTuple):
    #: Spans, log records, metric points, Loki entries or native events per request
    #: (the OTel Collector's default batch is 8192, the SDK's 512).
    max_items: int = 20_000
    #: Attributes (or Loki labels + structured metadata) on one item.
    max_attributes: int = 1_024
    #: Nesting of one attribute value (kvlist / array inside kvlist / array).
    max_depth: int = 16


DEFAULT_REQUEST_LIMITS = RequestLimits()


def request_limits(config: HubConfig) -> RequestLimits:
    """The per-request cost bounds the configuration sets."""
    return RequestLimits(
        max_items=config.max_items_per_request,
        max_attributes=config.max_attributes_per_item,
        max_depth=config.max_attribute_depth,
    )


class RequestLimitError(ValueError):
    """The request is past a cost bound; refused whole (``status`` 413 or 400)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def check_items(count: int, limits: RequestLimits, what: str) -> None:
    if count > limits.max_items:
        raise RequestLimitError(
            f"request has {count} {what}, more than the limit of {limits.max_items} per request "
            "(max_items_per_request, STACKLENS_MAX_ITEMS_PER_REQUEST): send smaller batches",
            413,
        )


def check_attributes(count: int, limits: RequestLimits, index: int, what: str) -> None:
    if count > limits.max_attributes:
        raise RequestLimitError(
            f"{what} {index} has {count} attributes, more than the limit of "
            f"{limits.max_attributes} per item "
            "(max_attributes_per_item, STACKLENS_MAX_ATTRIBUTES_PER_ITEM)",
            400,
        )


def depth_error(limits: RequestLimits, index: int, what: str) -> RequestLimitError:
    return RequestLimitError(
        f"{what} {index} has an attribute value nested deeper than the limit of "
        f"{limits.max_depth} levels (max_attribute_depth, STACKLENS_MAX_ATTRIBUTE_DEPTH)",
        400,
    )
