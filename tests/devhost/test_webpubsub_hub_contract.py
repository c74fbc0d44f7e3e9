"""The local Web PubSub hub's finer points of the service's contract: send and close options,
token checks, client requests, subprotocols, user groups and OData filters.

The hub is served as devhost serves it and driven by the real server SDK and real WebSocket
clients, with the helpers of test_webpubsub_hub.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import jwt
import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.messaging.webpubsubservice import WebPubSubServiceClient
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from devhost.webpubsub.app import create_hub_app
from tests.devhost.test_webpubsub_hub import (
    HUB,
    JSON_PROTOCOL,
    KEY,
    RELIABLE_PROTOCOL,
    assert_closed_with,
    clients_of,
    connected,
    eventually,
    hand_made_token,
    receive,
    request,
    service_client,
    serving,
)

Opener = Callable[..., ClientConnection]


@pytest.fixture(scope="module")
def hub_port() -> Iterator[int]:
    with serving(create_hub_app(KEY)) as port:
        yield port


@pytest.fixture(scope="module")
def service(hub_port: int) -> WebPubSubServiceClient:
    return service_client(hub_port)


@pytest.fixture
def open_client(service: WebPubSubServiceClient) -> Iterator[Opener]:
    """open_client(protocol, user_id=..., roles=[...], groups=[...]) → a connected socket."""
    with clients_of(service) as open_one:
        yield open_one


def rest(port: int, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """A hand-made data-plane call, with a token for its own URL."""
    url = f"http://127.0.0.1:{port}/api/hubs/{HUB}/{path}"
    headers = {"Authorization": f"Bearer {hand_made_token(url)}"}
    headers.update(kwargs.pop("headers", {}))
    return httpx.request(method, url, headers=headers, **kwargs)


def text_of(ws: ClientConnection) -> str:
    """The data of the next message frame."""
    return receive(ws)["data"]


def test_group_sends_honour_excluded_and_user_sends_honour_filters(
    service: WebPubSubServiceClient, open_client: Opener
) -> None:
    """A group send skips the `excluded` connections; a user send reaches only the connections
    its `filter` selects."""
    desk = open_client(JSON_PROTOCOL, user_id="ana", groups=["pass"])
    desk_id = connected(desk)["connectionId"]
    phone = open_client(JSON_PROTOCOL, user_id="ana")
    phone_id = connected(phone)["connectionId"]

    service.send_to_group("pass", "not for the desk", content_type="text/plain", excluded=[desk_id])
    only_phone = f"connectionId eq '{phone_id}'"
    service.send_to_user("ana", "phone only", content_type="text/plain", filter=only_phone)
    service.send_to_user("ana", "marker", content_type="text/plain")
    assert text_of(desk) == "marker"
    assert [text_of(phone), text_of(phone)] == ["phone only", "marker"]


def test_list_top_and_closing_a_group_or_user_spares_the_excluded(
    service: WebPubSubServiceClient, hub_port: int, open_client: Opener
) -> None:
    """Listing gives `top` connections and refuses `top=0`; closing a group's or a user's
    connections leaves the `excluded` ones open."""
    ids = [
        connected(open_client(JSON_PROTOCOL, user_id="bo", groups=["line"]))["connectionId"]
        for _ in range(3)
    ]
    assert [m.connection_id for m in service.list_connections(group="line", top=2)] == ids[:2]
    assert rest(hub_port, "GET", "groups/line/connections?top=0").status_code == 400

    service.close_group_connections("line", excluded=[ids[0]])
    assert service.connection_exists(ids[0])
    assert not service.connection_exists(ids[1]) and not service.connection_exists(ids[2])
    kept = connected(open_client(JSON_PROTOCOL, user_id="bo"))["connectionId"]
    service.close_user_connections("bo", excluded=[kept])
    assert service.connection_exists(kept) and not service.connection_exists(ids[0])


def test_a_close_without_a_reason_still_tells_the_client_why(
    service: WebPubSubServiceClient, open_client: Opener
) -> None:
    """A connection the server closes without a reason still gets a disconnected frame saying
    why, then close code 1008."""
    ws = open_client(JSON_PROTOCOL, user_id="cal")
    connection_id = connected(ws)["connectionId"]
    service.close_connection(connection_id)
    frame = receive(ws)
    assert frame["type"] == "system" and frame["event"] == "disconnected", frame
    assert frame["message"].strip(), "the disconnected frame gives no reason"
    assert_closed_with(ws, 1008)


def test_a_long_close_reason_still_closes_the_socket_with_1008(
    service: WebPubSubServiceClient, open_client: Opener
) -> None:
    """A reason longer than a WebSocket close frame carries (123 bytes) is sent whole in the
    disconnected frame and cut in the close frame, which is still 1008."""
    ws = open_client(JSON_PROTOCOL, user_id="cy")
    connection_id = connected(ws)["connectionId"]
    reason = "The shift is over; " * 12
    service.close_connection(connection_id, reason=reason)
    assert receive(ws) == {"type": "system", "event": "disconnected", "message": reason}
    assert_closed_with(ws, 1008)


def test_generated_tokens_join_their_groups_and_expire_when_asked(hub_port: int) -> None:
    """`:generateToken` puts its `group` into the token, joined on connect, and
    `minutesToExpire` counts minutes."""
    answer = rest(hub_port, "POST", ":generateToken?userId=dee&group=bar&minutesToExpire=5")
    assert answer.status_code == 200
    token = answer.json()["token"]
    claims = jwt.decode(token, KEY.encode(), algorithms=["HS256"], options={"verify_aud": False})
    assert claims["exp"] - claims["iat"] == 5 * 60
    client_url = f"ws://127.0.0.1:{hub_port}/client/hubs/{HUB}?access_token={token}"
    with connect(client_url, subprotocols=[JSON_PROTOCOL], proxy=None) as ws:
        connected(ws)
        service = service_client(hub_port)
        service.send_to_group("bar", "joined on connect", content_type="text/plain")
        assert text_of(ws) == "joined on connect"


def test_permissions_on_a_missing_connection_and_a_hub_wide_role(
    service: WebPubSubServiceClient, open_client: Opener
) -> None:
    """Granting to a missing connection is a 404; a hub-wide role counts for every group a
    permission check names."""
    with pytest.raises(ResourceNotFoundError):
        service.grant_permission("sendToGroup", "no-such-connection", target_name="g")
    ws = open_client(JSON_PROTOCOL, user_id="eli", roles=["webpubsub.joinLeaveGroup"])
    connection_id = connected(ws)["connectionId"]
    assert service.has_permission("joinLeaveGroup", connection_id, target_name="any-group")
    assert not service.has_permission("sendToGroup", connection_id, target_name="any-group")


def test_service_tokens_honour_nbf_query_order_and_a_lowercase_scheme(hub_port: int) -> None:
    """A service token is refused before its `nbf`; its `aud` matches the request whatever the
    query's order; the auth scheme is case-insensitive."""
    base = f"http://127.0.0.1:{hub_port}/api/hubs/{HUB}/:send"
    url = f"{base}?api-version=2024-12-01&excluded=x"

    def post(authorization: str) -> int:
        headers = {"Content-Type": "application/json", "Authorization": authorization}
        return httpx.post(url, content=b'"hi"', headers=headers).status_code

    now = time.time()
    early = {"aud": url, "exp": int(now + 600), "nbf": int(now + 300)}
    assert post(f"Bearer {jwt.encode(early, KEY.encode(), algorithm='HS256')}") == 401
    reordered = f"{base}?excluded=x&api-version=2024-12-01"
    assert post(f"Bearer {hand_made_token(reordered)}") == 202
    assert post(f"bearer {hand_made_token(url)}") == 202


def test_client_tokens_name_the_hub_in_any_case_but_only_on_this_port(
    hub_port: int, service: WebPubSubServiceClient
) -> None:
    """Hub names are case-insensitive (tokens and the hub a client joins), and a client token
    for another port is refused."""
    token = service.get_client_access_token(user_id="fin")["token"]
    upper = f"ws://127.0.0.1:{hub_port}/client/hubs/{HUB.upper()}?access_token={token}"
    with connect(upper, subprotocols=[JSON_PROTOCOL], proxy=None) as ws:
        connected(ws)
        service.send_to_user("fin", "same hub", content_type="text/plain")
        assert text_of(ws) == "same hub"
    other_port = hand_made_token(f"http://127.0.0.1:{hub_port + 1}/client/hubs/{HUB}")
    with pytest.raises(InvalidStatus) as refused:
        connect(
            f"ws://127.0.0.1:{hub_port}/client/hubs/{HUB}?access_token={other_port}", proxy=None
        )
    assert refused.value.response.status_code == 401


def test_a_client_token_may_come_in_the_authorization_header(hub_port: int) -> None:
    """A client may present its token as `Authorization: Bearer` rather than `?access_token=`."""
    token = hand_made_token(f"http://127.0.0.1:{hub_port}/client/hubs/{HUB}")
    with connect(
        f"ws://127.0.0.1:{hub_port}/client/hubs/{HUB}",
        subprotocols=[JSON_PROTOCOL],
        additional_headers={"Authorization": f"Bearer {token}"},
        proxy=None,
    ) as ws:
        assert connected(ws)["connectionId"]


def test_a_failed_ack_id_may_be_retried_and_events_are_acked(
    service: WebPubSubServiceClient, open_client: Opener
) -> None:
    """A request that failed may be retried with its ackId (not a Duplicate); events are acked;
    event data, blank group names and text data that is not a string are InvalidRequest."""
    ws = open_client(JSON_PROTOCOL, user_id="gil", roles=["webpubsub.sendToGroup"])
    connection_id = connected(ws)["connectionId"]
    assert request(ws, type="joinGroup", group="grill", ackId=1)["error"]["name"] == "Forbidden"
    service.grant_permission("joinLeaveGroup", connection_id)
    assert request(ws, type="joinGroup", group="grill", ackId=1)["success"] is True

    event = {"type": "event", "event": "bump", "dataType": "text", "data": "#12"}
    assert request(ws, **event, ackId=2) == {"type": "ack", "ackId": 2, "success": True}
    assert request(ws, **event | {"data": 12}, ackId=3)["error"]["name"] == "InvalidRequest"
    assert (
        request(ws, **event | {"dataType": "binary", "data": "no!"}, ackId=4)["error"]["name"]
        == "InvalidRequest"
    )
    assert request(ws, type="joinGroup", group="  ", ackId=5)["error"]["name"] == "InvalidRequest"
    bad_text = {"type": "sendToGroup", "group": "grill", "dataType": "text", "data": {"a": 1}}
    assert request(ws, **bad_text, ackId=6)["error"]["name"] == "InvalidRequest"


def test_json_clients_get_no_reconnection_token_and_a_known_later_subprotocol(
    hub_port: int, service: WebPubSubServiceClient
) -> None:
    """The hub picks a subprotocol it knows from later in the client's list, and a JSON (not
    reliable) client's connected frame carries no reconnectionToken."""
    url = service.get_client_access_token(user_id="hal")["url"]
    with connect(url, subprotocols=["mqtt", JSON_PROTOCOL], proxy=None) as ws:
        assert ws.subprotocol == JSON_PROTOCOL
        assert "reconnectionToken" not in connected(ws)


def test_user_group_removals_also_apply_to_later_connections(
    service: WebPubSubServiceClient, open_client: Opener
) -> None:
    """Removing a user from a group, or from all groups, also keeps the user's later connections
    out of them."""
    service.add_user_to_group("expo", "ida")
    service.add_user_to_group("bar", "ida")
    service.remove_user_from_group("expo", "ida")
    first = connected(open_client(JSON_PROTOCOL, user_id="ida"))["connectionId"]
    assert not service.group_exists("expo") and service.group_exists("bar")
    service.remove_user_from_all_groups("ida")
    service.close_connection(first)
    connected(open_client(JSON_PROTOCOL, user_id="ida"))
    assert not service.group_exists("bar")


def test_a_reliable_client_going_away_is_not_kept_for_recovery(
    service: WebPubSubServiceClient, open_client: Opener
) -> None:
    """A reliable client that closes with 1001 (going away) ends its connection at once: only a
    lost network starts the 30 s grace period for recovery."""
    ws = open_client(RELIABLE_PROTOCOL, user_id="jay")
    connection_id = connected(ws)["connectionId"]
    ws.close(code=1001)
    eventually(
        lambda: not service.connection_exists(connection_id),
        "a reliable connection closed with 1001 was kept",
    )


def test_a_reliable_connection_is_not_recovered_without_the_reliable_subprotocol(
    hub_port: int, open_client: Opener
) -> None:
    """Recovering a connection needs the reliable subprotocol; without it the socket is closed
    with 1008."""
    ws = open_client(RELIABLE_PROTOCOL, user_id="kai")
    hello = connected(ws)
    url = (
        f"ws://127.0.0.1:{hub_port}/client/hubs/{HUB}?awps_connection_id={hello['connectionId']}"
        f"&awps_reconnection_token={hello['reconnectionToken']}"
    )
    with connect(url, subprotocols=[JSON_PROTOCOL], proxy=None) as refused:
        assert_closed_with(refused, 1008)


def test_filters_with_ne_null_quotes_and_trailing_tokens(
    service: WebPubSubServiceClient, open_client: Opener
) -> None:
    """OData filters: `ne`, `null`, a quote doubled inside a string; trailing tokens and an `in`
    not followed by `groups` or a list are a 400."""
    quoted = open_client(JSON_PROTOCOL, user_id="o'neil", groups=["filters"])
    anonymous = open_client(JSON_PROTOCOL, groups=["filters"])
    connected(quoted)
    connected(anonymous)

    def send(text: str, where: str) -> None:
        service.send_to_group("filters", text, content_type="text/plain", filter=where)

    send("not o'neil", "userId ne 'o''neil'")
    send("anonymous", "userId eq null")
    send("o'neil", "userId eq 'o''neil'")
    send("marker", "true")
    assert [text_of(anonymous) for _ in range(3)] == ["not o'neil", "anonymous", "marker"]
    assert [text_of(quoted) for _ in range(2)] == ["o'neil", "marker"]
    for bad in ("userId eq 'a' 'b'", "'a' in userId"):
        with pytest.raises(HttpResponseError) as refused:
            send("x", bad)
        assert refused.value.status_code == 400, bad


def test_a_send_with_a_charset_parameter_is_accepted(hub_port: int, open_client: Opener) -> None:
    """A send whose Content-Type carries a parameter (`charset=utf-8`) is accepted."""
    ws = open_client(JSON_PROTOCOL, user_id="lou", groups=["charset"])
    connected(ws)
    answer = rest(
        hub_port,
        "POST",
        "groups/charset/:send?api-version=2024-12-01",
        content="café".encode(),
        headers={"Content-Type": "text/plain; charset=utf-8"},
    )
    assert answer.status_code == 202, answer.text
    assert text_of(ws) == "café"
