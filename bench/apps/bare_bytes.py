"""The floor for cached reads: bare uvicorn returning the bytes of BENCH_BODY_FILE, with the
headers devhost sent with them (BENCH_HEADERS_FILE, JSON), so both sides send the same bytes."""

import json
import os
from pathlib import Path

BODY = Path(os.environ["BENCH_BODY_FILE"]).read_bytes()
SENT = json.loads(Path(os.environ["BENCH_HEADERS_FILE"]).read_text())
HEADERS = [(name.encode(), value.encode()) for name, value in SENT.items()] + [
    (b"content-length", str(len(BODY)).encode())
]


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
