"""The bytes both the bare uvicorn floor and the trivial function return."""

BODY = b'{"hello":"world"}'
CONTENT_TYPE = "application/json"
