"""Errors devhost reports to the person who started it, without a traceback."""


class StartupError(RuntimeError):
    """devhost could not start one of its servers; the message says which and why."""
