"""The smallest HTTP function: what devhost adds on top of bare uvicorn is all that is measured."""

import azure.functions as func

from bench.apps.payload import BODY, CONTENT_TYPE

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="hello", methods=["GET"])
def hello(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(BODY, mimetype=CONTENT_TYPE)
