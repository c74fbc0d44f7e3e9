"""devhost refuses an app the Python worker would not index (Azure would load none of it)."""

from __future__ import annotations

from typing import Any, Dict  # noqa: UP035 - typing's alias is what the worker accepts

import azure.durable_functions as df
import pytest

from devhost.worker_indexing import WorkerWouldRefuse, check_indexable, refused_annotations


def _activity_annotated(annotation: Any) -> list:
    app = df.DFApp()

    def prepare(work):  # annotated below, as each test needs
        return work

    prepare.__annotations__ = {"work": annotation}
    app.activity_trigger(input_name="work")(prepare)
    return app.get_functions()


def test_every_function_of_the_app_is_indexable(app_functions: list) -> None:
    assert refused_annotations(app_functions) == []


@pytest.mark.parametrize("annotation", [dict, Dict[str, Any], str, bytes])  # noqa: UP006
def test_classes_and_typing_aliases_pass(annotation: Any) -> None:
    check_indexable(_activity_annotated(annotation))


def test_a_pep_585_alias_on_a_binding_parameter_is_refused_with_the_workers_words() -> None:
    # On Python 3.11 `dict[str, Any]` is neither a class nor one of typing's aliases.
    with pytest.raises(WorkerWouldRefuse, match=r"prepare: binding work has invalid non-type"):
        check_indexable(_activity_annotated(dict[str, Any]))
