"""devhost refuses an app the Python worker would not index (Azure would load none of it)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict  # noqa: UP035 - typing's alias the worker accepts

import azure.durable_functions as df
import azure.functions as func
import pytest

from devhost.worker_indexing import WorkerWouldRefuse, check_indexable, refused_annotations

if TYPE_CHECKING:
    from decimal import Decimal  # for type checkers only: unresolvable when the app runs


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


def test_an_out_binding_is_checked_on_its_argument() -> None:
    app = df.DFApp()

    @app.function_name("relay")
    @app.queue_trigger(arg_name="msg", queue_name="in", connection="AzureWebJobsStorage")
    @app.queue_output(arg_name="out", queue_name="out", connection="AzureWebJobsStorage")
    def relay(msg: func.QueueMessage, out: func.Out[dict[str, Any]]) -> None:
        out.set({})

    with pytest.raises(WorkerWouldRefuse, match="binding out has invalid non-type annotation"):
        check_indexable(app.get_functions())


def test_an_http_functions_return_annotation_must_be_a_class() -> None:
    app = df.DFApp()

    @app.route(route="ping")
    def ping(req: func.HttpRequest) -> func.HttpResponse | None:
        return func.HttpResponse("pong")

    with pytest.raises(WorkerWouldRefuse, match="ping: has invalid non-type return annotation"):
        check_indexable(app.get_functions())


def test_an_annotation_that_cannot_be_resolved_is_refused_naming_the_function() -> None:
    # Imported for type checkers only: the worker's get_type_hints fails on it as well.
    app = df.DFApp()

    def prepare(work: Decimal) -> dict:
        return {}

    app.activity_trigger(input_name="work")(prepare)
    with pytest.raises(WorkerWouldRefuse, match="prepare: its annotations cannot be resolved"):
        check_indexable(app.get_functions())
