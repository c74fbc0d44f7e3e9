"""An azure-core transport on the standard library's http.client, for the SDKs on hot paths.

The Tables SDK (a tenant-directory read that misses the local cache) and the Web PubSub SDK (one
outbox publish per kitchen event) run on request paths. Under azure-core's default transport,
requests and urllib3 re-prepare the URL azure-core has already built (percent-encoding a Web
PubSub filter one character at a time), merge settings and keep pool bookkeeping: as much CPU
per call as all the SDK's own policies. This transport hands azure-core's finished request to a
keep-alive http.client connection of the calling thread and wraps the answer in azure-core's
response type, so retries, authentication and error mapping above it are the SDK's own.

What it does not handle goes to a RequestsTransport unchanged: streamed bodies or downloads,
proxies, client certificates and the legacy request type. A kept-alive connection the server
has closed is noticed before reuse (a readable idle socket), and if the server closes it in the
instant between that check and the send, the request is sent once more on a new connection; the
callers here are idempotent reads and upserts, and outbox events, which clients de-duplicate.
"""

from __future__ import annotations

import http.client
import select
import ssl
import threading
import weakref
import zlib
from collections.abc import MutableMapping
from typing import Any
from urllib.parse import urlsplit

from azure.core.configuration import ConnectionConfiguration
from azure.core.exceptions import (
    ServiceRequestError,
    ServiceRequestTimeoutError,
    ServiceResponseError,
    ServiceResponseTimeoutError,
)
from azure.core.pipeline.transport import HttpTransport, RequestsTransport
from azure.core.rest import HttpRequest
from azure.core.rest._http_response_impl import HttpResponseImpl
from azure.core.utils import case_insensitive_dict

# (scheme, host, port, verify): one kept-alive connection per thread for each.
ConnectionKey = tuple[str, str, int, bool | str]
_CLOSED_ERRORS = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


class ConnectionClosedError(ServiceResponseError):
    """The server closed the connection before answering (on a reused one: a stale keep-alive)."""


class StdlibHttpResponse(HttpResponseImpl):
    """A whole, already read http.client response in azure-core's `rest.HttpResponse` shape."""

    def __init__(self, request: HttpRequest, raw: http.client.HTTPResponse, body: bytes) -> None:
        headers = _joined_headers(raw.getheaders())
        super().__init__(
            request=request,
            internal_response=raw,
            status_code=raw.status,
            reason=raw.reason,
            content_type=headers.get("content-type"),
            headers=headers,
            stream_download_generator=None,
        )
        self._content = _decoded(body, headers.get("content-encoding"))
        self._is_stream_consumed = True
        self._is_closed = True


def _joined_headers(pairs: list[tuple[str, str]]) -> MutableMapping[str, str]:
    """Case-insensitive headers; a repeated header's values joined by commas, as requests does."""
    headers: MutableMapping[str, str] = case_insensitive_dict()
    for name, value in pairs:
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


def _decoded(body: bytes, encoding: str | None) -> bytes:
    """The body without its gzip/deflate Content-Encoding (requests decodes these too)."""
    if encoding and encoding.strip().lower() in ("gzip", "deflate"):
        return zlib.decompress(body, zlib.MAX_WBITS | 32)  # 32: accept a zlib or gzip header
    return body


def _is_stale(connection: http.client.HTTPConnection) -> bool:
    """True when an idle kept-alive socket is readable: the server closed it (or misbehaved)."""
    sock = connection.sock
    if sock is None:
        return True
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


class StdlibTransport(HttpTransport):
    """`transport=StdlibTransport(connection_timeout=..., read_timeout=...)` for an SDK client."""

    def __init__(self, **kwargs: Any) -> None:
        self.connection_config = ConnectionConfiguration(**kwargs)
        self._fallback_options = kwargs
        self._fallback: RequestsTransport | None = None
        self._local = threading.local()
        self._lock = threading.Lock()
        # Weak: a connection lives in its thread's locals and closes when that thread ends;
        # close() reaches the ones still open.
        self._open: weakref.WeakSet[http.client.HTTPConnection] = weakref.WeakSet()

    def __enter__(self) -> StdlibTransport:
        return self

    def __exit__(self, *args: Any) -> None:
        self.close()  # as RequestsTransport does; a later send simply reconnects

    def open(self) -> None:
        pass

    def close(self) -> None:
        with self._lock:
            connections, self._open = list(self._open), weakref.WeakSet()
            fallback, self._fallback = self._fallback, None
        for connection in connections:
            connection.close()
        if fallback is not None:
            fallback.close()

    def send(self, request: Any, **kwargs: Any) -> Any:
        url = urlsplit(request.url)
        if url.scheme not in ("http", "https") or not self._handles(request, kwargs):
            return self._fallback_transport().send(request, **kwargs)
        body = _body_bytes(request.content)
        kwargs.pop("stream", None)
        connect_timeout = kwargs.pop("connection_timeout", self.connection_config.timeout)
        read_timeout = kwargs.pop("read_timeout", self.connection_config.read_timeout)
        verify = kwargs.pop("connection_verify", self.connection_config.verify)
        default_port = 443 if url.scheme == "https" else 80
        key = (url.scheme, url.hostname or "", url.port or default_port, verify)
        target = url.path or "/"
        if url.query:
            target = f"{target}?{url.query}"
        return self._exchange(
            request, key, target, body, connect_timeout=connect_timeout, read_timeout=read_timeout
        )

    def _handles(self, request: Any, kwargs: dict[str, Any]) -> bool:
        if not isinstance(request, HttpRequest) or kwargs.get("stream"):
            return False
        if not isinstance(request.content, str | bytes | bytearray | None):
            return False  # a file, generator or multipart body: the fallback streams it
        if kwargs.get("proxies") or kwargs.get("connection_cert") or self.connection_config.cert:
            return False
        timeouts = (kwargs.get("connection_timeout"), kwargs.get("read_timeout"))
        return not any(isinstance(timeout, tuple) for timeout in timeouts)

    def _fallback_transport(self) -> RequestsTransport:
        with self._lock:
            if self._fallback is None:
                self._fallback = RequestsTransport(**self._fallback_options)
            return self._fallback

    def _exchange(
        self,
        request: HttpRequest,
        key: ConnectionKey,
        target: str,
        body: bytes | None,
        *,
        connect_timeout: float,
        read_timeout: float,
    ) -> StdlibHttpResponse:
        connection, reused = self._connection(key)
        try:
            try:
                raw = self._round_trip(
                    connection, request, target, body, connect_timeout, read_timeout
                )
            except ConnectionClosedError:
                if not reused:
                    raise
                # Closed by the server between the staleness check and our send: once more.
                self._discard(key, connection)
                connection, _ = self._connection(key)
                raw = self._round_trip(
                    connection, request, target, body, connect_timeout, read_timeout
                )
            content = self._read(raw)
        except BaseException:
            self._discard(key, connection)
            raise
        if raw.will_close:
            self._discard(key, connection)
        return StdlibHttpResponse(request, raw, content)

    @staticmethod
    def _round_trip(
        connection: http.client.HTTPConnection,
        request: HttpRequest,
        target: str,
        body: bytes | None,
        connect_timeout: float,
        read_timeout: float,
    ) -> http.client.HTTPResponse:
        if connection.sock is None:
            connection.timeout = connect_timeout
            try:
                connection.connect()
            except TimeoutError as error:
                raise ServiceRequestTimeoutError(error, error=error) from error
            except OSError as error:  # refused, unresolvable, TLS verification failed
                raise ServiceRequestError(error, error=error) from error
        connection.sock.settimeout(read_timeout)
        try:
            connection.request(request.method, target, body=body, headers=dict(request.headers))
        except _CLOSED_ERRORS as error:
            # A server may answer before it has read the whole body (a 413 from Content-Length
            # alone, RFC 9110 §15.5.14) and close: that answer is the one to report, as urllib3
            # reads it too. Nothing to read means the connection was stale.
            try:
                return connection.getresponse()
            except (OSError, http.client.HTTPException):
                raise ConnectionClosedError(error, error=error) from error
        except (OSError, http.client.HTTPException) as error:
            raise ServiceRequestError(error, error=error) from error
        try:
            return connection.getresponse()
        except _CLOSED_ERRORS as error:
            raise ConnectionClosedError(error, error=error) from error
        except TimeoutError as error:
            raise ServiceResponseTimeoutError(error, error=error) from error
        except (OSError, http.client.HTTPException) as error:
            raise ServiceResponseError(error, error=error) from error

    @staticmethod
    def _read(raw: http.client.HTTPResponse) -> bytes:
        try:
            return raw.read()
        except TimeoutError as error:
            raise ServiceResponseTimeoutError(error, error=error) from error
        except (OSError, http.client.HTTPException) as error:
            raise ServiceResponseError(error, error=error) from error

    def _connection(self, key: ConnectionKey) -> tuple[http.client.HTTPConnection, bool]:
        """This thread's connection for key, and whether it has served a request before."""
        connections: dict[ConnectionKey, http.client.HTTPConnection] = self._thread_connections()
        connection = connections.get(key)
        if connection is not None:
            if not _is_stale(connection):
                return connection, True
            self._discard(key, connection)
        connection = _new_connection(key)
        connections[key] = connection
        with self._lock:
            self._open.add(connection)
        return connection, False

    def _thread_connections(self) -> dict[ConnectionKey, http.client.HTTPConnection]:
        connections = getattr(self._local, "connections", None)
        if connections is None:
            connections = self._local.connections = {}
        return connections

    def _discard(self, key: ConnectionKey, connection: http.client.HTTPConnection) -> None:
        connection.close()
        connections = self._thread_connections()
        if connections.get(key) is connection:
            del connections[key]
        with self._lock:
            self._open.discard(connection)


def _body_bytes(content: str | bytes | bytearray | None) -> bytes | None:
    if not content:
        return None
    return content.encode("utf-8") if isinstance(content, str) else bytes(content)


def _new_connection(key: ConnectionKey) -> http.client.HTTPConnection:
    scheme, host, port, verify = key
    if scheme == "http":
        return http.client.HTTPConnection(host, port)
    return http.client.HTTPSConnection(host, port, context=_tls_context(verify))


def _tls_context(verify: bool | str) -> ssl.SSLContext:
    """Certificate checks as azure-core's `connection_verify` means them: on, off, or a CA file."""
    if verify is False:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if isinstance(verify, str):
        return ssl.create_default_context(cafile=verify)
    return ssl.create_default_context()
