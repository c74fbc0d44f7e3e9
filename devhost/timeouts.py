"""functionTimeout (host.json) for every kind of invocation, as the host applies it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


class FunctionTimedOut(Exception):
    """The call exceeded functionTimeout (a TimeoutError the function raises is its own failure)."""


async def within_function_timeout(call: Awaitable[T], timeout_s: float | None) -> T:
    """Await call, failing it with FunctionTimedOut once timeout_s has passed (None: no limit).

    A sync function's thread cannot be stopped: it runs on, as it would on the host until the
    worker is recycled, but its caller stops waiting and counts the call as failed.
    """
    if timeout_s is None:
        return await call
    try:
        async with asyncio.timeout(timeout_s) as deadline:
            return await call
    except TimeoutError:
        if deadline.expired():
            raise FunctionTimedOut(f"exceeded functionTimeout ({timeout_s:g} s)") from None
        raise
