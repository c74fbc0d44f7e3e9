"""Where Kestrel (the Functions host's HTTP server) reads a request that llhttp refuses or cuts.

devhost parses HTTP with httptools (llhttp) for speed. Three requests came out differently from
`func start` and Azure, and this protocol reads them as Kestrel does:

- **An upgrade offer on a request with a body** (`Connection: Upgrade` + `Upgrade: h2c`, what
  `curl --http2` and Java's HttpClient send to http:// URLs). llhttp ends the message at its
  headers and hands back the rest as "another protocol"; uvicorn dropped it, so the function got
  an empty body, and a request pipelined behind it was never answered. Kestrel upgrades to
  nothing here and ignores an offer on a request with a body (`Http1MessageBody.For`), so the
  announced Content-Length bytes are the body and what follows is the next request.
- **A method in lower case** (`fetch()` upper-cases get/post/put/delete/head/options and sends
  `patch` as written). llhttp refuses it; Kestrel takes any token, and the host's routes match
  methods ignoring case, so `patch` runs the PATCH function. A request line that starts a read
  between messages (how every client but a pipelining one sends) gets its method upper-cased.
- **Anything llhttp cannot parse** is a 400 as before, but as problem+json like every other
  answer, not uvicorn's text/plain line.
"""

from __future__ import annotations

import re

import httptools

from devhost.coalescing_http import CoalescingHttpToolsProtocol
from devhost.routing import problem_document

# The methods llhttp knows (any other is refused in any case), as a client may spell them.
_METHOD = re.compile(rb"([A-Za-z-]{3,12}) ")
_KNOWN_METHODS = frozenset(
    b"GET HEAD POST PUT DELETE CONNECT OPTIONS TRACE PATCH PROPFIND PROPPATCH MKCOL COPY MOVE"
    b" LOCK UNLOCK SEARCH REPORT MERGE PURGE".split()
)


def upper_case_method(data: bytes) -> bytes:
    """data with a leading method known in upper case upper-cased (`patch /x` → `PATCH /x`)."""
    found = _METHOD.match(data)
    if found is None:
        return data
    method = found[1]
    upper = method.upper()
    if upper == method or upper not in _KNOWN_METHODS:
        return data
    return upper + data[len(method) :]


class KestrelParsingProtocol(CoalescingHttpToolsProtocol):
    """Give to `uvicorn.Config(http=...)`: devhost's HTTP/1.1 protocol (no websocket upgrades)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._between_messages = True
        # Bytes of an upgrade-offering request's body still to come (llhttp left them to us).
        self._body_left = 0

    def data_received(self, data: bytes) -> None:
        if self._body_left:
            self._take_body(data)
            return
        if self._between_messages and 0x61 <= data[0] <= 0x7A:  # starts in lower case
            data = upper_case_method(data)
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            (offset,) = upgrade.args
            if self._should_upgrade():
                self.handle_websocket_upgrade()
                return
            self._body_left = self._announced_length()
            self._take_body(data[offset:])
        except httptools.HttpParserError:
            self.send_400_response("The request is not valid HTTP/1.1")

    def on_message_begin(self) -> None:
        self._between_messages = False
        super().on_message_begin()

    def on_message_complete(self) -> None:
        if self.parser.should_upgrade() and self._announced_length():
            return  # llhttp's end of an upgrade offer: the body follows (_take_body).
        self._between_messages = True
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        # No instance: the request line is what could not be read.
        body = problem_document(400, "Bad request", msg, "")
        head = (
            b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/problem+json\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body)
        )
        self.transport.write(head + body)
        self.transport.close()

    def _announced_length(self) -> int:
        for name, value in self.headers or ():
            if name == b"content-length":
                return int(value)
        return 0

    def _take_body(self, data: bytes) -> None:
        """The body of a request that offered an upgrade; what follows it is the next request."""
        taken, rest = data[: self._body_left], data[self._body_left :]
        self._body_left -= len(taken)
        if taken and not self.cycle.response_complete:
            self.cycle.body += taken
            self.cycle.message_event.set()
        if self._body_left:
            return
        self._between_messages = True
        self.cycle.more_body = False
        self.cycle.message_event.set()
        if rest:
            self.data_received(rest)
