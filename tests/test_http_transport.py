"""The http.client transport under the Tables and Web PubSub SDKs: real Azurite, and small raw
socket servers for what Azurite cannot be asked to do (drop a kept-alive connection, hang, speak
TLS with a certificate we made)."""

from __future__ import annotations

import datetime
import gc
import gzip
import ipaddress
import json
import os
import socket
import ssl
import threading
import uuid
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from azure.core.exceptions import (
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
    ServiceResponseTimeoutError,
)
from azure.core.rest import HttpRequest
from azure.data.tables import TableServiceClient
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from shared.http_transport import ConnectionClosedError, StdlibTransport

OK = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"


def _read_request(conn: socket.socket) -> bytes | None:
    """One request's head and body from conn (Content-Length bodies), None when it closed."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        body += conn.recv(65536)
    return head + b"\r\n\r\n" + body


class RawServer:
    """Accepts connections on 127.0.0.1 and gives each, numbered from 0, to handle(n, conn)."""

    def __init__(self, handle: Callable[[int, socket.socket], None], tls: ssl.SSLContext | None):
        self.handle = handle
        self.tls = tls
        self.connections = 0
        self.requests: list[bytes] = []
        self.hung_up = threading.Event()  # set whenever a connection's handler has closed it
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def read(self, conn: socket.socket) -> bytes | None:
        request = _read_request(conn)
        if request is not None:
            self.requests.append(request)
        return request

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            number, self.connections = self.connections, self.connections + 1
            threading.Thread(target=self._serve, args=(number, conn), daemon=True).start()

    def _serve(self, number: int, conn: socket.socket) -> None:
        try:
            if self.tls is not None:
                conn = self.tls.wrap_socket(conn, server_side=True)
            with conn:
                self.handle(number, conn)
        except (OSError, ssl.SSLError):
            pass  # a client that refused our certificate hangs up mid-handshake
        finally:
            self.hung_up.set()

    def close(self) -> None:
        self._listener.close()


@contextmanager
def raw_server(
    handle: Callable[[RawServer, int, socket.socket], None], tls: ssl.SSLContext | None = None
) -> Iterator[RawServer]:
    server = RawServer(lambda n, conn: handle(server, n, conn), tls)
    try:
        yield server
    finally:
        server.close()


def _get(transport: StdlibTransport, url: str, **kwargs: object):
    return transport.send(HttpRequest("GET", url), **kwargs)


def answer_then_close(server: RawServer, _n: int, conn: socket.socket) -> None:
    """Answers one request as if keeping the connection alive, then closes it (idle timeout)."""
    if server.read(conn):
        conn.sendall(OK)


def test_a_kept_alive_connection_the_server_closed_is_replaced_before_reuse() -> None:
    transport = StdlibTransport(read_timeout=5)
    with raw_server(answer_then_close) as server:
        url = f"http://127.0.0.1:{server.port}/a"
        first = _get(transport, url)
        assert (first.status_code, first.text()) == (200, "ok")
        assert server.hung_up.wait(5)  # the idle socket now reads as closed: not reused
        second = _get(transport, url)
        assert (second.status_code, second.text()) == (200, "ok")
        assert server.connections == 2 and len(server.requests) == 2


def test_a_connection_closed_as_the_request_arrives_is_retried_once_on_a_new_one() -> None:
    def drop_second_request(server: RawServer, n: int, conn: socket.socket) -> None:
        while server.read(conn):
            if n == 0 and len(server.requests) == 2:
                return  # closes without answering, after the client's staleness check passed
            conn.sendall(OK)

    transport = StdlibTransport(read_timeout=5)
    with raw_server(drop_second_request) as server:
        url = f"http://127.0.0.1:{server.port}/"
        assert _get(transport, url).status_code == 200
        assert _get(transport, url).status_code == 200
        assert server.connections == 2 and len(server.requests) == 3


def test_a_fresh_connection_closed_without_an_answer_is_an_error_not_a_retry() -> None:
    def hang_up(server: RawServer, _n: int, conn: socket.socket) -> None:
        server.read(conn)

    transport = StdlibTransport(read_timeout=5)
    with raw_server(hang_up) as server:
        with pytest.raises(ConnectionClosedError) as raised:
            _get(transport, f"http://127.0.0.1:{server.port}/")
        assert isinstance(raised.value, ServiceResponseError)
        assert len(server.requests) == 1


def test_a_finished_threads_connection_closes_with_it() -> None:
    def answer_until_closed(server: RawServer, _n: int, conn: socket.socket) -> None:
        while server.read(conn):
            conn.sendall(OK)

    transport = StdlibTransport(read_timeout=5)
    with raw_server(answer_until_closed) as server:
        url = f"http://127.0.0.1:{server.port}/"
        worker = threading.Thread(target=lambda: _get(transport, url))
        worker.start()
        worker.join()
        gc.collect()
        assert server.hung_up.wait(5)  # the client side of the keep-alive connection closed


def test_a_silent_server_times_out_as_a_response_error() -> None:
    stop = threading.Event()

    def never_answer(server: RawServer, _n: int, conn: socket.socket) -> None:
        server.read(conn)
        stop.wait(10)

    transport = StdlibTransport(read_timeout=0.3)
    with raw_server(never_answer) as server:
        with pytest.raises(ServiceResponseTimeoutError):
            _get(transport, f"http://127.0.0.1:{server.port}/")
        stop.set()


def test_nothing_listening_is_a_request_error() -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    with pytest.raises(ServiceRequestError):
        _get(StdlibTransport(connection_timeout=1), f"http://127.0.0.1:{port}/")


@pytest.mark.parametrize(
    ("encoding", "compress"), [("gzip", gzip.compress), ("deflate", zlib.compress)]
)
def test_bodies_headers_and_content_encoding_arrive_as_requests_would_give_them(
    encoding: str, compress: Callable[[bytes], bytes]
) -> None:
    """Both encodings RequestsTransport decodes arrive decoded."""

    def echo_encoded(server: RawServer, _n: int, conn: socket.socket) -> None:
        while (request := server.read(conn)) is not None:
            body = compress(request.partition(b"\r\n\r\n")[2])
            head = (
                "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
                f"Content-Encoding: {encoding}\r\nX-Seen: a\r\nX-Seen: b\r\n"
                f"Content-Length: {len(body)}"
            )
            conn.sendall(head.encode() + b"\r\n\r\n" + body)

    transport = StdlibTransport(read_timeout=5)
    document = {"message": "Grüße", "n": 1}
    with raw_server(echo_encoded) as server:
        url = f"http://127.0.0.1:{server.port}/api/hubs/kitchen/:send?filter=%27a%27%20in%20groups"
        response = transport.send(HttpRequest("POST", url, json=document))
        assert response.status_code == 201
        assert response.json() == document
        assert response.headers["x-seen"] == "a, b"
        assert server.requests[0].startswith(
            b"POST /api/hubs/kitchen/:send?filter=%27a%27%20in%20groups HTTP/1.1"
        )
        streamed = transport.send(HttpRequest("POST", url, json=document), stream=True)
        assert json.loads(b"".join(streamed.iter_bytes())) == document  # via RequestsTransport


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1: (certificate file, key file)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def test_https_verifies_the_certificate_unless_told_otherwise(
    certificate: tuple[Path, Path],
) -> None:
    cert_file, key_file = certificate
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert_file, key_file)

    def answer(server: RawServer, _n: int, conn: socket.socket) -> None:
        while server.read(conn):
            conn.sendall(OK)

    with raw_server(answer, tls) as server:
        url = f"https://127.0.0.1:{server.port}/"
        with pytest.raises(ServiceRequestError, match="CERTIFICATE_VERIFY_FAILED"):
            _get(StdlibTransport(connection_timeout=2), url)
        trusting = StdlibTransport(connection_verify=str(cert_file))
        assert _get(trusting, url).text() == "ok"
        assert _get(trusting, url).text() == "ok"  # the same TLS connection, kept alive
        assert _get(StdlibTransport(), url, connection_verify=False).text() == "ok"
        assert server.connections == 3


def test_the_tables_sdk_works_through_it_against_azurite() -> None:
    service = TableServiceClient.from_connection_string(
        os.environ["AzureWebJobsStorage"], transport=StdlibTransport(read_timeout=10)
    )
    table = service.create_table(f"transport{uuid.uuid4().hex[:12]}")
    try:
        for n in range(5):
            table.upsert_entity({"PartitionKey": "p", "RowKey": f"r{n}", "n": n, "name": "Grüße"})
        assert table.get_entity("p", "r3")["n"] == 3
        with pytest.raises(ResourceNotFoundError):
            table.get_entity("p", "missing")
        pages = table.query_entities("PartitionKey eq 'p'", results_per_page=2).by_page()
        seen = [[entity["RowKey"] for entity in page] for page in pages]
        assert seen == [["r0", "r1"], ["r2", "r3"], ["r4"]]  # continuation headers followed
        table.delete_entity("p", "r0")
        assert [e["RowKey"] for e in table.list_entities()] == ["r1", "r2", "r3", "r4"]
    finally:
        service.delete_table(table.table_name)
