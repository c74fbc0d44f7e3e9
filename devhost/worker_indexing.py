"""The Python worker's own checks when it indexes an app, so devhost refuses what Azure would.

The worker (azure_functions_worker/functions.py, `Registry.validate_function_params`) rejects a
binding parameter whose annotation is neither a class nor one of typing's generic aliases, and
it indexes every function in one loop (loader.process_indexed_function), so one such function
leaves the whole app with no functions at all on Azure and under `func start`. A PEP 585 alias
such as `dict[str, Any]` is neither on Python 3.11 (`typing.Dict[str, Any]` or plain `dict`
pass).
"""

from __future__ import annotations

import collections.abc
import typing
from collections.abc import Iterable
from typing import Any, ClassVar, Generic, Union

import azure.functions as func

from devhost.errors import StartupError

# typing's private alias classes, which the worker's typing_inspect.is_generic_type tests for.
_TYPING_ALIASES = (typing._GenericAlias, typing._SpecialGenericAlias)  # type: ignore[attr-defined]


class WorkerWouldRefuse(StartupError):
    """The Python worker would fail to index the app (Azure would load no function)."""


def _is_generic_type(annotation: Any) -> bool:
    """azure_functions_worker/utils/typing_inspect.py `is_generic_type`, as the worker ships it."""
    return (isinstance(annotation, type) and issubclass(annotation, Generic)) or (
        isinstance(annotation, _TYPING_ALIASES)
        and annotation.__origin__ not in (Union, tuple, ClassVar, collections.abc.Callable)
    )


def refused_annotations(functions: Iterable[Any]) -> list[str]:
    """The worker's error for each function it would refuse, as it words them."""
    refused = []
    for function in functions:
        name = function.get_function_name()
        try:
            hints = typing.get_type_hints(function.get_user_function())
        except Exception as error:  # the worker calls get_type_hints too, and fails alike
            refused.append(f"{name}: its annotations cannot be resolved ({error!r})")
            continue
        bindings = {binding.name for binding in function.get_bindings()}
        for binding in sorted(bindings - {"$return"}):
            annotation = hints.get(binding)
            if annotation is None:
                continue
            checked = _out_argument(annotation)  # an output binding's Out[T] is checked on T
            if not isinstance(checked, type) and not _is_generic_type(checked):
                refused.append(
                    f"{name}: binding {binding} has invalid non-type annotation {annotation!r}"
                )
        returned = hints.get("return")
        # Only an explicit return binding (an HTTP function's `$return`) is checked.
        if "$return" in bindings and returned is not None:
            if _out_argument(returned) is not returned:
                refused.append(f"{name}: return annotation should not be azure.functions.Out")
            elif not isinstance(returned, type):
                refused.append(f"{name}: has invalid non-type return annotation {returned!r}")
    return refused


def _out_argument(annotation: Any) -> Any:
    """T for `func.Out[T]`, else annotation itself."""
    if _is_generic_type(annotation) and typing.get_origin(annotation) is func.Out:
        arguments = typing.get_args(annotation)
        return arguments[0] if arguments else annotation
    return annotation


def check_indexable(functions: Iterable[Any]) -> None:
    """Raise WorkerWouldRefuse naming every function the Python worker would not load."""
    refused = refused_annotations(functions)
    if refused:
        raise WorkerWouldRefuse(
            "the Python worker would index no function of this app (Azure and `func start` "
            "load none): " + "; ".join(refused) + ". Annotate with a class (`dict`) or a "
            "typing alias (`typing.Dict[str, Any]`) instead."
        )
