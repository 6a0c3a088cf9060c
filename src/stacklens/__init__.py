"""stacklens: the observability hub for fleets of AI stacks."""

__version__ = "0.1.0"
__all__ = ["__version__"]
