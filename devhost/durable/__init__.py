"""devhost's durable engine: Durable Functions orchestrations run locally on Azurite tables.

See `engine` for the public API (`DurableEngine`) and its guarantees (activities are
at-least-once across a crash), `runtime` for the episode driver and `episode` for how the
host mirrors the SDK's task numbering.
"""

from .engine import DurableEngine

__all__ = ["DurableEngine"]
