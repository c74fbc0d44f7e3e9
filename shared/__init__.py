"""Stelly domain code: no Azure Functions types in here, so it is testable on its own."""

__version__ = "0.1.0"
