"""The floor: a bare ASGI app on uvicorn returning the same bytes as the trivial function."""

from bench.apps.payload import BODY, CONTENT_TYPE

HEADERS = [(b"content-type", CONTENT_TYPE.encode()), (b"content-length", str(len(BODY)).encode())]


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
