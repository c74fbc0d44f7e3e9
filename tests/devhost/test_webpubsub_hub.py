"""devhost's Web PubSub emulator, driven by the real server SDK and real WebSocket clients.

The hub runs under uvicorn on a free loopback port; the server side is
`WebPubSubServiceClient.from_connection_string(...)` exactly as function_app uses it, and clients
connect with the URLs its `get_client_access_token` builds.
"""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import jwt
import pytest
import uvicorn
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.messaging.webpubsubservice import WebPubSubServiceClient
from starlette.applications import Starlette
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from devhost.services import free_port
from devhost.webpubsub.app import create_hub_app, hub_server_config

KEY = "test-webpubsub-access-key-0123456789abcdef"
HUB = "kitchen"
JSON_PROTOCOL = "json.webpubsub.azure.v1"
RELIABLE_PROTOCOL = "json.reliable.webpubsub.azure.v1"
RECEIVE_TIMEOUT = 5.0


@contextlib.contextmanager
def serving(app: Starlette, *, as_devhost: bool = True) -> Iterator[int]:
    """Run `app` under uvicorn in a background thread; yield its port.

    As devhost serves it (frames written past ASGI, see wire.py) or, as_devhost=False, with
    uvicorn's defaults, where every frame goes through ASGI `send`.
    """
    port = free_port()
    if as_devhost:
        config = hub_server_config(app, host="127.0.0.1", port=port)
    else:
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    # uvicorn offers no event to wait on; `started` flips once the socket listens.
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the hub did not start"
        time.sleep(0.01)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def service_client(port: int, key: str = KEY) -> WebPubSubServiceClient:
    return WebPubSubServiceClient.from_connection_string(
        f"Endpoint=http://127.0.0.1:{port};AccessKey={key};Version=1.0;", hub=HUB
    )


@pytest.fixture(scope="module", params=["devhost", "any-asgi-server"])
def port(request: pytest.FixtureRequest) -> Iterator[int]:
    with serving(create_hub_app(KEY), as_devhost=request.param == "devhost") as hub_port:
        yield hub_port


@pytest.fixture(scope="module")
def service(port: int) -> WebPubSubServiceClient:
    return service_client(port)


@contextlib.contextmanager
def clients_of(service: WebPubSubServiceClient) -> Iterator[Callable[..., ClientConnection]]:
    """open_one(protocol, user_id=..., roles=[...], groups=[...]) → a connected socket, closed
    when the block ends."""
    with contextlib.ExitStack() as stack:

        def open_one(protocol: str | None, **token_args: Any) -> ClientConnection:
            url = service.get_client_access_token(**token_args)["url"]
            return stack.enter_context(
                connect(url, subprotocols=[protocol] if protocol else None, proxy=None)
            )

        yield open_one


@pytest.fixture
def open_client(
    service: WebPubSubServiceClient,
) -> Iterator[Callable[..., ClientConnection]]:
    """open_client(protocol, user_id=..., roles=[...], groups=[...]) → a connected socket."""
    with clients_of(service) as open_one:
        yield open_one


def receive(ws: ClientConnection) -> Any:
    """The next frame: parsed JSON for text frames of the JSON protocols, else as received."""
    frame = ws.recv(timeout=RECEIVE_TIMEOUT)
    return json.loads(frame) if ws.subprotocol and isinstance(frame, str) else frame


def connected(ws: ClientConnection) -> dict[str, Any]:
    frame = receive(ws)
    assert frame["type"] == "system" and frame["event"] == "connected", frame
    return frame


def request(ws: ClientConnection, **frame: Any) -> dict[str, Any]:
    """Send a client frame and return the hub's answer (an ack or a pong)."""
    ws.send(json.dumps(frame))
    return receive(ws)


def assert_closed_with(ws: ClientConnection, code: int) -> None:
    """The hub's next move on `ws` is a close frame with `code`."""
    with pytest.raises(ConnectionClosed) as closed:
        ws.recv(timeout=RECEIVE_TIMEOUT)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == code


def eventually(condition: Callable[[], bool], what: str) -> None:
    """Poll `condition` until true; for hub state that changes on a timer or a socket's end."""
    deadline = time.monotonic() + 5
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def hand_made_token(url: str, *, key: str = KEY, expires_in: float = 60) -> str:
    claims = {"aud": url, "exp": int(time.time() + expires_in)}
    return jwt.encode(claims, key.encode(), algorithm="HS256")


def test_rest_calls_need_a_token_for_their_own_url_signed_with_the_key(port: int) -> None:
    base = f"http://127.0.0.1:{port}/api/hubs/{HUB}"
    url = f"{base}/:send?api-version=2024-12-01"

    def post(token: str | None) -> int:
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return httpx.post(url, content=b'"hi"', headers=headers).status_code

    assert post(hand_made_token(url)) == 202
    assert post(None) == 401
    assert post(hand_made_token(url, key="not-the-key-0123456789abcdef0123456789")) == 401
    assert post(hand_made_token(url, expires_in=-30)) == 401
    assert post(hand_made_token(f"{base}/groups/g/:send?api-version=2024-12-01")) == 401
    assert post(hand_made_token(f"http://127.0.0.1:{port + 1}/api/hubs/{HUB}/:send")) == 401
    assert post("not.a.jwt") == 401
    header, _, signature = hand_made_token(url).split(".")
    forged_claims = hand_made_token(url, expires_in=3600).split(".")[1]
    assert post(f"{header}.{forged_claims}.{signature}") == 401
    unsigned = base64.urlsafe_b64encode(b'{"alg":"none"}').decode().rstrip("=")
    assert post(f"{unsigned}.{forged_claims}.") == 401
    # The same URL spelled differently (percent-encoding, query) is still the request URL.
    respelled = f"http://127.0.0.1:{port}/api/hubs/%6Bitchen/:send?api-version=2024-12-01&"
    assert post(hand_made_token(respelled)) == 202

    with pytest.raises(HttpResponseError) as refused:
        service_client(port, key="wrong-key-0123456789abcdef0123456789ab").send_to_all({"a": 1})
    assert refused.value.status_code == 401


def test_generate_token_answers_a_client_token_for_this_hub(port: int) -> None:
    # The SDK mints tokens itself when it has the key; clients without it ask the service.
    query = "api-version=2024-12-01&userId=zed&role=webpubsub.joinLeaveGroup&group=bar"
    url = f"http://127.0.0.1:{port}/api/hubs/{HUB}/:generateToken?{query}&minutesToExpire=5"
    answer = httpx.post(url, headers={"Authorization": f"Bearer {hand_made_token(url)}"})
    assert answer.status_code == 200
    token = answer.json()["token"]
    client_url = f"ws://127.0.0.1:{port}/client/hubs/{HUB}?access_token={token}"
    with connect(client_url, subprotocols=[JSON_PROTOCOL], proxy=None) as ws:
        assert connected(ws)["userId"] == "zed"
        assert request(ws, type="leaveGroup", group="bar", ackId=1)["success"] is True


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("groups/g/connections?top=%C2%B2", None),  # a digit to str.isdigit(), not to int()
        (":generateToken?minutesToExpire=%C2%B2", None),
        (":send?filter=" + "(" * 400 + "userId%20eq%20'a'" + ")" * 400, b'"hi"'),
    ],
)
def test_odd_rest_input_is_a_400_not_a_500(port: int, path: str, body: bytes | None) -> None:
    base = f"http://127.0.0.1:{port}/api/hubs/{HUB}/{path}"
    url = f"{base}{'&' if '?' in base else '?'}api-version=2024-12-01"
    headers = {"Authorization": f"Bearer {hand_made_token(url)}", "Content-Type": "text/plain"}
    method = "GET" if path.startswith("groups/") else "POST"
    answer = httpx.request(method, url, content=body, headers=headers)
    assert answer.status_code == 400, answer.text


def test_sdk_sends_reach_each_protocol_in_its_framing(
    service: WebPubSubServiceClient, open_client: Callable[..., ClientConnection]
) -> None:
    ana = open_client(JSON_PROTOCOL, user_id="ana", groups=["sends"])
    ben = open_client(RELIABLE_PROTOCOL, user_id="ben", groups=["sends"])
    cy = open_client(None, user_id="cy", groups=["sends"])
    ana_id = connected(ana)["connectionId"]
    ben_hello = connected(ben)
    assert ben_hello["userId"] == "ben" and ben_hello["reconnectionToken"]

    service.send_to_all({"dish": "soup"})
    server_json = {
        "type": "message",
        "from": "server",
        "dataType": "json",
        "data": {"dish": "soup"},
    }
    assert receive(ana) == server_json
    assert receive(ben) == {**server_json, "sequenceId": 1}
    assert json.loads(receive(cy)) == {"dish": "soup"}

    service.send_to_group("sends", "ready", content_type="text/plain")
    group_text = {"type": "message", "from": "group", "group": "sends", "dataType": "text"}
    assert receive(ana) == {**group_text, "data": "ready"}
    assert receive(ben) == {**group_text, "data": "ready", "sequenceId": 2}
    assert receive(cy) == "ready"

    service.send_to_user("ben", b"\x00\x01\xff", content_type="application/octet-stream")
    service.send_to_user("cy", b"\x00\x01\xff", content_type="application/octet-stream")
    assert receive(ben) == {
        "type": "message",
        "from": "server",
        "dataType": "binary",
        "data": base64.b64encode(b"\x00\x01\xff").decode(),
        "sequenceId": 3,
    }
    assert receive(cy) == b"\x00\x01\xff"

    service.send_to_connection(ana_id, "just you", content_type="text/plain")
    assert receive(ana)["data"] == "just you"

    # Excluded connections and non-matching filters get nothing: the next frame is the marker.
    service.send_to_all("not for ana", content_type="text/plain", excluded=[ana_id])
    service.send_to_all("only ben", content_type="text/plain", filter="userId eq 'ben'")
    service.send_to_group("sends", "marker", content_type="text/plain")
    assert receive(ana)["data"] == "marker"
    assert [receive(ben)["data"] for _ in range(3)] == ["not for ana", "only ben", "marker"]
    assert [receive(cy) for _ in range(2)] == ["not for ana", "marker"]

    filtered = f"'sends' in groups and not (userId eq 'cy' or connectionId eq '{ana_id}')"
    service.send_to_all("group filter", content_type="text/plain", filter=filtered)
    assert receive(ben)["data"] == "group filter"
    with pytest.raises(HttpResponseError) as bad_filter:
        service.send_to_all("x", content_type="text/plain", filter="userId gt 'a'")
    assert bad_filter.value.status_code == 400


def test_messages_of_every_frame_length_arrive_whole_and_in_order(
    service: WebPubSubServiceClient, open_client: Callable[..., ClientConnection]
) -> None:
    # WebSocket frames encode a payload's length in 1, 2 or 8 bytes (under 126, under 64 KiB,
    # above): one message of each, sent back to back so they queue on the sockets together.
    ana = open_client(JSON_PROTOCOL, user_id="ana", groups=["sizes"])
    cy = open_client(None, user_id="cy", groups=["sizes"])
    connected(ana)
    texts = ["s" * 100, "m" * 5_000, "l" * 100_000]
    for text in texts:
        service.send_to_group("sizes", text, content_type="text/plain")
    assert [receive(ana)["data"] for _ in texts] == texts
    assert [receive(cy) for _ in texts] == texts


def test_connections_users_and_groups_managed_over_rest(
    service: WebPubSubServiceClient, open_client: Callable[..., ClientConnection]
) -> None:
    dora = open_client(JSON_PROTOCOL, user_id="dora")
    dora_id = connected(dora)["connectionId"]
    assert service.connection_exists(dora_id) and service.user_exists("dora")
    assert not service.connection_exists("no-such-connection")
    assert not service.user_exists("nobody")
    assert not service.group_exists("pass")

    service.add_connection_to_group("pass", dora_id)
    assert service.group_exists("pass")
    assert [m.connection_id for m in service.list_connections(group="pass")] == [dora_id]
    service.send_to_group("pass", {"ticket": 7})
    assert receive(dora)["group"] == "pass"
    service.remove_connection_from_group("pass", dora_id)
    assert not service.group_exists("pass")
    service.add_connection_to_group("pass", dora_id)
    service.add_connection_to_group("line", dora_id)
    service.remove_connection_from_all_groups(dora_id)
    assert not service.group_exists("pass") and not service.group_exists("line")
    with pytest.raises(ResourceNotFoundError):
        service.add_connection_to_group("pass", "no-such-connection")

    # A user's group membership also applies to the user's later connections.
    service.add_user_to_group("expo", "dora")
    later = open_client(JSON_PROTOCOL, user_id="dora")
    later_id = connected(later)["connectionId"]
    assert {m.connection_id for m in service.list_connections(group="expo")} == {dora_id, later_id}
    service.remove_user_from_group("expo", "dora")
    assert not service.group_exists("expo")
    service.add_user_to_group("a/b", "dora")
    assert service.group_exists("a/b")
    service.remove_user_from_all_groups("dora")
    assert not service.group_exists("a/b")

    service.close_connection(later_id, reason="shift over")
    assert receive(later) == {"type": "system", "event": "disconnected", "message": "shift over"}
    assert_closed_with(later, 1008)
    assert not service.connection_exists(later_id)


def test_closing_by_group_user_and_all(
    service: WebPubSubServiceClient, open_client: Callable[..., ClientConnection]
) -> None:
    in_group = open_client(None, user_id="eve", groups=["closing"])
    by_user = open_client(None, user_id="fay")
    spared = open_client(JSON_PROTOCOL, user_id="gus")
    spared_id = connected(spared)["connectionId"]
    service.close_group_connections("closing")
    service.close_user_connections("fay")
    assert_closed_with(in_group, 1008)
    assert_closed_with(by_user, 1008)
    assert not service.user_exists("eve") and not service.user_exists("fay")
    service.close_all_connections(excluded=[spared_id])
    assert service.connection_exists(spared_id)


def test_roles_gate_joining_and_leaving_groups(
    service: WebPubSubServiceClient, open_client: Callable[..., ClientConnection]
) -> None:
    nobody = open_client(JSON_PROTOCOL, user_id="hal")
    connected(nobody)
    refused = request(nobody, type="joinGroup", group="grill", ackId=1)
    assert refused["success"] is False and refused["error"]["name"] == "Forbidden"

    cook = open_client(JSON_PROTOCOL, user_id="ivy", roles=["webpubsub.joinLeaveGroup.grill"])
    cook_id = connected(cook)["connectionId"]
    assert request(cook, type="joinGroup", group="grill", ackId=1) == {
        "type": "ack",
        "ackId": 1,
        "success": True,
    }
    assert service.group_exists("grill")
    assert request(cook, type="joinGroup", group="fryer", ackId=2)["error"]["name"] == "Forbidden"
    assert request(cook, type="joinGroup", group="grill", ackId=1)["error"]["name"] == "Duplicate"
    assert request(cook, type="leaveGroup", group="grill", ackId=3)["success"] is True
    assert not service.group_exists("grill")
    assert request(cook, type="ping") == {"type": "pong"}

    # Permissions granted over REST work like token roles.
    service.grant_permission("joinLeaveGroup", cook_id, target_name="fryer")
    assert service.has_permission("joinLeaveGroup", cook_id, target_name="fryer")
    assert request(cook, type="joinGroup", group="fryer", ackId=4)["success"] is True
    service.revoke_permission("joinLeaveGroup", cook_id, target_name="fryer")
    assert not service.has_permission("joinLeaveGroup", cook_id, target_name="fryer")
    assert request(cook, type="leaveGroup", group="fryer", ackId=5)["error"]["name"] == "Forbidden"


def test_client_send_to_group_reaches_members_and_honours_no_echo(
    open_client: Callable[..., ClientConnection],
) -> None:
    sender = open_client(
        JSON_PROTOCOL, user_id="jon", roles=["webpubsub.sendToGroup.room"], groups=["room"]
    )
    listener = open_client(RELIABLE_PROTOCOL, user_id="kim", groups=["room"])
    connected(sender)
    connected(listener)

    ws_send = {"type": "sendToGroup", "group": "room", "dataType": "json", "data": {"x": 1}}
    echoed = {"type": "message", "from": "group", "group": "room", "fromUserId": "jon"}
    sender.send(json.dumps({**ws_send, "ackId": 1}))
    assert receive(sender) == {**echoed, "dataType": "json", "data": {"x": 1}}
    assert receive(sender) == {"type": "ack", "ackId": 1, "success": True}
    assert receive(listener) == {**echoed, "dataType": "json", "data": {"x": 1}, "sequenceId": 1}

    quiet = {**ws_send, "dataType": "text", "data": "quiet", "noEcho": True, "ackId": 2}
    assert request(sender, **quiet) == {"type": "ack", "ackId": 2, "success": True}
    assert receive(listener)["data"] == "quiet"

    other = {**ws_send, "group": "elsewhere", "ackId": 3}
    assert request(sender, **other)["error"]["name"] == "Forbidden"
    broken = {**ws_send, "dataType": "binary", "data": "not base64!", "ackId": 4}
    assert request(sender, **broken)["error"]["name"] == "InvalidRequest"


def test_bad_client_tokens_are_refused_with_401(port: int, service: WebPubSubServiceClient) -> None:
    base = f"ws://127.0.0.1:{port}/client/hubs/{HUB}"
    good_aud = f"http://127.0.0.1:{port}/client/hubs/{HUB}"
    bad_tokens = [
        hand_made_token(good_aud, key="wrong-key-0123456789abcdef0123456789ab"),
        hand_made_token(good_aud, expires_in=-30),
        hand_made_token(f"http://127.0.0.1:{port}/client/hubs/other"),
        "not-a-jwt",
    ]
    for token in bad_tokens:
        with pytest.raises(InvalidStatus) as refused:
            connect(f"{base}?access_token={token}", proxy=None)
        assert refused.value.response.status_code == 401
    with pytest.raises(InvalidStatus) as missing:
        connect(base, proxy=None)
    assert missing.value.response.status_code == 401
    # ws:// and http:// name the same endpoint: the hand-made token is good.
    with connect(f"{base}?access_token={hand_made_token(good_aud)}", proxy=None) as ws:
        assert ws.protocol.state.name == "OPEN"


def drop_abruptly(ws: ClientConnection) -> None:
    """End the TCP connection without a WebSocket close handshake, like a lost network."""
    ws.socket.shutdown(socket.SHUT_RDWR)


def reconnect(port: int, hello: dict[str, Any], token: str | None = None) -> ClientConnection:
    url = (
        f"ws://127.0.0.1:{port}/client/hubs/{HUB}?awps_connection_id={hello['connectionId']}"
        f"&awps_reconnection_token={token or hello['reconnectionToken']}"
    )
    return connect(url, subprotocols=[RELIABLE_PROTOCOL], proxy=None)


def test_reliable_client_recovers_every_message_in_order_after_a_drop(
    port: int, service: WebPubSubServiceClient, open_client: Callable[..., ClientConnection]
) -> None:
    total = 300
    ws = open_client(RELIABLE_PROTOCOL, user_id="lea", groups=["stream"])
    hello = connected(ws)
    sent = 0
    progress = threading.Condition()

    def send_all() -> None:
        nonlocal sent
        for number in range(total):
            service.send_to_group("stream", {"n": number})
            with progress:
                sent += 1
                progress.notify_all()

    sender = threading.Thread(target=send_all)
    sender.start()
    delivered: list[int] = []
    last_sequence_id = 0

    def take(frame: dict[str, Any]) -> None:
        # A reliable client drops replays it already has, by sequence id.
        nonlocal last_sequence_id
        if frame["sequenceId"] <= last_sequence_id:
            return
        assert frame["sequenceId"] == last_sequence_id + 1, "a message was skipped"
        last_sequence_id = frame["sequenceId"]
        delivered.append(frame["data"]["n"])

    try:
        while len(delivered) < 40:
            take(receive(ws))
        acked = last_sequence_id - 10
        ws.send(json.dumps({"type": "sequenceAck", "sequenceId": acked}))
        # The pong proves the ack was processed: the hub handles a socket's frames in order.
        ws.send(json.dumps({"type": "ping"}))
        while (frame := receive(ws))["type"] != "pong":
            take(frame)
        while len(delivered) < 60:
            take(receive(ws))
        drop_abruptly(ws)
        with progress:
            dropped_at = sent
            assert progress.wait_for(lambda: sent >= min(total, dropped_at + 50), timeout=10)

        with reconnect(port, hello) as resumed:
            assert connected(resumed)["connectionId"] == hello["connectionId"]
            first_replay = receive(resumed)
            assert first_replay["sequenceId"] == acked + 1, "acked messages must not be replayed"
            take(first_replay)
            while len(delivered) < total:
                take(receive(resumed))
            assert service.group_exists("stream")
    finally:
        sender.join(timeout=30)
    assert delivered == list(range(total))
    # A clean close (1000) ends a reliable connection without a grace period.
    eventually(
        lambda: not service.connection_exists(hello["connectionId"]),
        "a cleanly closed reliable connection was kept",
    )


def test_recovery_takes_over_a_socket_the_hub_still_thinks_is_open(
    port: int, service: WebPubSubServiceClient, open_client: Callable[..., ClientConnection]
) -> None:
    old = open_client(RELIABLE_PROTOCOL, user_id="oli", groups=["takeover"])
    hello = connected(old)
    service.send_to_group("takeover", "one", content_type="text/plain")
    assert receive(old)["sequenceId"] == 1
    with reconnect(port, hello) as new:
        assert connected(new)["connectionId"] == hello["connectionId"]
        assert receive(new)["data"] == "one", "the unacknowledged message is replayed"
        assert_closed_with(old, 1000)
        service.send_to_group("takeover", "two", content_type="text/plain")
        assert receive(new) == {
            "type": "message",
            "from": "group",
            "group": "takeover",
            "dataType": "text",
            "data": "two",
            "sequenceId": 2,
        }


def test_recovery_with_a_wrong_token_is_closed_with_1008(
    port: int, open_client: Callable[..., ClientConnection]
) -> None:
    ws = open_client(RELIABLE_PROTOCOL, user_id="max")
    hello = connected(ws)
    # A forged token, non-ASCII as any URL may carry.
    with reconnect(port, hello, token="forg%C3%A9") as refused:
        assert_closed_with(refused, 1008)


def test_a_dropped_reliable_connection_expires_after_the_grace_period() -> None:
    with serving(create_hub_app(KEY, reconnect_grace_seconds=0.2)) as short_port:
        service = service_client(short_port)
        url = service.get_client_access_token(user_id="ned")["url"]
        with connect(url, subprotocols=[RELIABLE_PROTOCOL], proxy=None) as ws:
            hello = connected(ws)
            drop_abruptly(ws)
        assert service.connection_exists(hello["connectionId"])
        eventually(
            lambda: not service.connection_exists(hello["connectionId"]),
            "the connection outlived its grace period",
        )
        with reconnect(short_port, hello) as too_late:
            assert_closed_with(too_late, 1008)


def _strict_json(text: str) -> Any:
    """What JSON.parse in a display accepts: no NaN or Infinity."""

    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_a_deeply_nested_client_frame_is_ignored_like_other_malformed_ones(open_client) -> None:
    ws = open_client(RELIABLE_PROTOCOL, user_id="deep")
    connected(ws)
    ws.send("[" * 100_000)
    assert request(ws, type="ping") == {"type": "pong"}


def test_nan_is_not_json_from_a_client_or_over_rest(open_client, port: int) -> None:
    ws = open_client(JSON_PROTOCOL, user_id="n", groups=["nan"], roles=["webpubsub.sendToGroup"])
    connected(ws)
    # Not JSON, so treated like any malformed frame: nothing is relayed to the group (a
    # display's JSON.parse would throw on it), and the connection carries on.
    ws.send('{"type":"sendToGroup","group":"nan","dataType":"json","data":NaN,"ackId":1}')
    ws.send(json.dumps({"type": "ping"}))
    assert _strict_json(ws.recv(timeout=RECEIVE_TIMEOUT)) == {"type": "pong"}
    url = f"http://127.0.0.1:{port}/api/hubs/{HUB}/groups/nan/:send?api-version=2024-12-01"
    headers = {
        "Authorization": f"Bearer {hand_made_token(url)}",
        "Content-Type": "application/json",
    }
    assert httpx.post(url, content=b'{"a": NaN}', headers=headers).status_code == 400
    # Valid JSON, but beyond a double: relayed, it would go out as `Infinity`.
    assert httpx.post(url, content=b'{"total": 1e400}', headers=headers).status_code == 400
    ws.send('{"type":"sendToGroup","group":"nan","dataType":"json","data":1e400,"ackId":2}')
    ws.send(json.dumps({"type": "ping"}))
    assert _strict_json(ws.recv(timeout=RECEIVE_TIMEOUT)) == {"type": "pong"}


def test_a_long_or_filter_reaches_its_groups(open_client, service) -> None:
    # The app's publisher builds `'a' in groups or 'b' in groups or ...`.
    ws = open_client(JSON_PROTOCOL, user_id="f", groups=["g7"])
    connected(ws)
    service.send_to_all({"x": 1}, filter=" or ".join(f"'g{i}' in groups" for i in range(1200)))
    assert receive(ws)["data"] == {"x": 1}


def test_not_lists_and_booleans_in_filters_read_as_the_service_reads_them(
    open_client, service
) -> None:
    # reference-odata-filter: `not` binds tighter than a comparison, so the service refuses
    # `not userId eq 'a'` (a filter devhost took would fail every send in Azure); `userId in
    # ('a', 'b')` is a list; true and false are booleans.
    ws = open_client(JSON_PROTOCOL, user_id="listed", groups=["listgroup"])
    connected(ws)
    with pytest.raises(HttpResponseError) as refused:
        service.send_to_all("x", content_type="text/plain", filter="not userId eq 'other'")
    assert refused.value.status_code == 400
    listed = "userId in ('listed', 'other') and 'listgroup' in groups and not false"
    service.send_to_all("for the listed", content_type="text/plain", filter=listed)
    assert receive(ws)["data"] == "for the listed"


def test_a_refused_request_without_an_ack_id_closes_the_connection(open_client) -> None:
    # concept-ack.md: without an ackId, "connection will be closed with disconnected message if
    # any errors happen".
    ws = open_client(JSON_PROTOCOL, user_id="noack")
    connected(ws)
    ws.send(json.dumps({"type": "joinGroup", "group": "not-mine"}))
    frame = receive(ws)
    assert frame["type"] == "system" and frame["event"] == "disconnected", frame
    with pytest.raises(ConnectionClosed):
        ws.recv(timeout=RECEIVE_TIMEOUT)
