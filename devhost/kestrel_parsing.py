"""Where Kestrel (the Functions host's HTTP server) reads a request that llhttp refuses or cuts.

devhost parses HTTP with httptools (llhttp) for speed. Three requests came out differently from
`func start` and Azure, and this protocol reads them as Kestrel does:

- **An upgrade offer on a request with a body** (`Connection: Upgrade` + `Upgrade: h2c`, what
  `curl --http2` and Java's HttpClient send to http:// URLs). llhttp ends the message at its
  headers and hands back the rest as "another protocol"; uvicorn dropped it, so the function got
  an empty body, and a request pipelined behind it was never answered. Kestrel upgrades to
  nothing here and ignores an offer on a request with a body (`Http1MessageBody.For`), so the
  announced Content-Length bytes are the body (a chunked one is read past: the host hands a
  function no chunked body) and what follows is the next request.
- **A method in lower or mixed case** (`fetch()` upper-cases get/post/put/delete/head/options
  and sends `patch` or `Patch` as written). llhttp refuses it; Kestrel takes any token, and the
  host's routes match methods ignoring case, so `patch` runs the PATCH function. A request line
  that starts a read between messages (how every client but a pipelining one sends) gets its
  method upper-cased.
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


def _lower_case_in_method(data: bytes) -> bool:
    """`patch` or `Patch` (every method has three letters or more): a look at the first two
    bytes, so the upper-case requests of every other client cost next to nothing more."""
    head = data[:2]
    return head != head.upper()


class _ChunkedSkipper:
    """Reads past a chunked body (the host hands the function none: see the README), across
    reads; `feed` answers what follows the body once it has ended, else None."""

    def __init__(self) -> None:
        self._buffer = b""
        self._state = "size"
        self._left = 0

    def feed(self, data: bytes) -> bytes | None:
        buffer = self._buffer + data
        while True:
            if self._state == "data":
                taken = min(self._left, len(buffer))
                self._left -= taken
                buffer = buffer[taken:]
                if self._left:
                    self._buffer = b""
                    return None
                self._state = "size"
            line, found, rest = buffer.partition(b"\r\n")
            if not found:
                self._buffer = buffer
                return None
            buffer = rest
            if self._state == "trailer":
                if not line:
                    return buffer  # the blank line after the trailers: the body has ended
                continue
            size = int(line.split(b";", 1)[0].strip(), 16)  # ValueError: not chunked framing
            self._state, self._left = ("trailer", 0) if size == 0 else ("data", size + 2)


class KestrelParsingProtocol(CoalescingHttpToolsProtocol):
    """Give to `uvicorn.Config(http=...)`: devhost's HTTP/1.1 protocol (no websocket upgrades)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._between_messages = True
        # Bytes of an upgrade-offering request's body still to come (llhttp left them to us).
        self._body_left = 0
        # The same for a chunked body, which the function does not get (as on the host).
        self._chunked: _ChunkedSkipper | None = None

    def data_received(self, data: bytes) -> None:
        if self._body_left:
            self._take_body(data)
            return
        if self._chunked is not None:
            self._skip_chunked(data)
            return
        if self._between_messages and _lower_case_in_method(data):
            data = upper_case_method(data)
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            (offset,) = upgrade.args
            if self._should_upgrade():
                self.handle_websocket_upgrade()
                return
            if self._is_chunked():
                self._chunked = _ChunkedSkipper()
                self._skip_chunked(data[offset:])
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
        if self.parser.should_upgrade() and self._is_chunked():
            # The function gets no chunked body; the request ends once the body is read past.
            return
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

    def _is_chunked(self) -> bool:
        return any(name == b"transfer-encoding" for name, _ in self.headers or ())

    def _skip_chunked(self, data: bytes) -> None:
        assert self._chunked is not None
        try:
            rest = self._chunked.feed(data)
        except ValueError:
            self.send_400_response("The chunked request body is malformed")
            return
        if rest is None:
            return
        self._chunked = None
        self._end_request(rest)

    def _take_body(self, data: bytes) -> None:
        """The body of a request that offered an upgrade; what follows it is the next request."""
        taken, rest = data[: self._body_left], data[self._body_left :]
        self._body_left -= len(taken)
        if taken and not self.cycle.response_complete:
            self.cycle.body += taken
            self.cycle.message_event.set()
        if not self._body_left:
            self._end_request(rest)

    def _end_request(self, rest: bytes) -> None:
        """The request that offered an upgrade is whole; rest is the next one's."""
        self._between_messages = True
        self.cycle.more_body = False
        self.cycle.message_event.set()
        if rest:
            self.data_received(rest)
