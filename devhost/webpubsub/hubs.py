"""The hub registry: each hub's connections, groups and users, and every way to send to them.

Everything runs on one asyncio event loop, so no locks: a method either finishes without
awaiting or does not touch shared state. Hub names are case-insensitive, as in the service.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Collection, Iterable

from devhost.webpubsub.connections import CLEAN_CLOSE_CODES, ClientConnection, SocketLink
from devhost.webpubsub.filters import Predicate
from devhost.webpubsub.frames import OutboundMessage

TOO_SLOW_REASON = "The client fell too far behind; the connection was dropped."


class Hub:
    """One hub's connections, group members, user connections and user group memberships."""

    def __init__(self, name: str, *, reconnect_grace_seconds: float) -> None:
        self.name = name
        self._grace_seconds = reconnect_grace_seconds
        self._connections: dict[str, ClientConnection] = {}
        self._groups: dict[str, dict[str, ClientConnection]] = {}
        self._users: dict[str, dict[str, ClientConnection]] = {}
        # add_user_to_group outlives the user's current connections: later ones join too.
        self._user_groups: dict[str, set[str]] = {}

    def add(self, connection: ClientConnection, groups: Iterable[str]) -> None:
        """Register a new connection and join its token's groups and its user's groups."""
        self._connections[connection.connection_id] = connection
        if connection.user_id is not None:
            self._users.setdefault(connection.user_id, {})[connection.connection_id] = connection
            groups = [*groups, *self._user_groups.get(connection.user_id, ())]
        for group in groups:
            self.join(connection, group)

    def remove(self, connection: ClientConnection) -> None:
        """Forget a connection everywhere; messages to it stop at once."""
        if connection.grace_timer is not None:
            connection.grace_timer.cancel()
            connection.grace_timer = None
        self._connections.pop(connection.connection_id, None)
        self.leave_all(connection)
        if connection.user_id is not None:
            _discard(self._users, connection.user_id, connection.connection_id)

    def get(self, connection_id: str) -> ClientConnection | None:
        """The live (or recovering) connection with this id."""
        return self._connections.get(connection_id)

    def resume(self, connection_id: str, reconnection_token: str) -> ClientConnection | None:
        """The reliable connection a reconnecting client may take back, or None."""
        connection = self._connections.get(connection_id)
        if connection is None or not connection.reliable:
            return None
        # Bytes, because compare_digest refuses non-ASCII str and the token comes from a URL.
        expected = connection.reconnection_token.encode("utf-8")
        if not hmac.compare_digest(expected, reconnection_token.encode("utf-8")):
            return None
        if connection.grace_timer is not None:
            connection.grace_timer.cancel()
            connection.grace_timer = None
        return connection

    def link_lost(self, connection: ClientConnection, link: SocketLink, close_code: int) -> None:
        """A socket ended: keep a reliable connection for the grace period, drop anything else."""
        if not connection.detach(link):
            return
        if connection.reliable and not connection.closed and close_code not in CLEAN_CLOSE_CODES:
            loop = asyncio.get_running_loop()
            connection.grace_timer = loop.call_later(self._grace_seconds, self._expire, connection)
        else:
            self.remove(connection)

    def _expire(self, connection: ClientConnection) -> None:
        connection.grace_timer = None
        if (
            not connection.attached
            and self._connections.get(connection.connection_id) is connection
        ):
            connection.closed = True
            self.remove(connection)

    def join(self, connection: ClientConnection, group: str) -> None:
        """Add a connection to a group (a no-op when it is already a member)."""
        self._groups.setdefault(group, {})[connection.connection_id] = connection
        connection.groups.add(group)

    def leave(self, connection: ClientConnection, group: str) -> None:
        """Remove a connection from a group (a no-op when it is not a member)."""
        _discard(self._groups, group, connection.connection_id)
        connection.groups.discard(group)

    def leave_all(self, connection: ClientConnection) -> None:
        """Remove a connection from every group."""
        for group in list(connection.groups):
            self.leave(connection, group)

    def group_exists(self, group: str) -> bool:
        """Whether any connection is in the group."""
        return bool(self._groups.get(group))

    def user_exists(self, user_id: str) -> bool:
        """Whether the user has any connection."""
        return bool(self._users.get(user_id))

    def group_members(self, group: str) -> list[ClientConnection]:
        """The group's connections, in the order they joined."""
        return list(self._groups.get(group, {}).values())

    def user_connections(self, user_id: str) -> list[ClientConnection]:
        """The user's connections, oldest first."""
        return list(self._users.get(user_id, {}).values())

    def add_user_to_group(self, user_id: str, group: str) -> None:
        """Join the user's connections to the group, now and on every later connect."""
        self._user_groups.setdefault(user_id, set()).add(group)
        for connection in self.user_connections(user_id):
            self.join(connection, group)

    def remove_user_from_group(self, user_id: str, group: str) -> None:
        """Take the user's connections out of the group and stop joining new ones."""
        self._user_groups.get(user_id, set()).discard(group)
        for connection in self.user_connections(user_id):
            self.leave(connection, group)

    def remove_user_from_all_groups(self, user_id: str) -> None:
        """Take the user's connections out of every group."""
        self._user_groups.pop(user_id, None)
        for connection in self.user_connections(user_id):
            self.leave_all(connection)

    def send_to_all(
        self,
        message: OutboundMessage,
        *,
        excluded: Collection[str] = (),
        where: Predicate | None = None,
    ) -> None:
        """Deliver to every connection not excluded that matches the filter."""
        self._deliver(self._connections.values(), message, excluded, where)

    def send_to_group(
        self,
        group: str,
        message: OutboundMessage,
        *,
        excluded: Collection[str] = (),
        where: Predicate | None = None,
    ) -> None:
        """Deliver to the group's members not excluded that match the filter."""
        self._deliver(self._groups.get(group, {}).values(), message, excluded, where)

    def send_to_user(
        self, user_id: str, message: OutboundMessage, *, where: Predicate | None = None
    ) -> None:
        """Deliver to each of the user's connections that matches the filter."""
        self._deliver(self._users.get(user_id, {}).values(), message, (), where)

    def send_to_connection(self, connection_id: str, message: OutboundMessage) -> None:
        """Deliver to one connection; a connection that does not exist gets nothing."""
        connection = self._connections.get(connection_id)
        if connection is not None:
            self._deliver((connection,), message, (), None)

    def _deliver(
        self,
        connections: Iterable[ClientConnection],
        message: OutboundMessage,
        excluded: Collection[str],
        where: Predicate | None,
    ) -> None:
        # Slow clients are closed after the walk: closing mutates the collection walked.
        too_slow = [
            connection
            for connection in connections
            if connection.connection_id not in excluded
            and (where is None or where(connection))
            and not connection.deliver(message)
        ]
        for connection in too_slow:
            self.close(connection, TOO_SLOW_REASON)

    def close(self, connection: ClientConnection, reason: str) -> None:
        """Close one connection for good."""
        connection.close(reason)
        self.remove(connection)

    def close_many(
        self, connections: Iterable[ClientConnection], *, excluded: Collection[str], reason: str
    ) -> None:
        """Close every given connection that is not excluded."""
        for connection in list(connections):
            if connection.connection_id not in excluded:
                self.close(connection, reason)

    def all_connections(self) -> list[ClientConnection]:
        """Every connection, live or recovering."""
        return list(self._connections.values())


class HubRegistry:
    """All hubs of one emulator, created on first use."""

    def __init__(self, *, reconnect_grace_seconds: float) -> None:
        self._grace_seconds = reconnect_grace_seconds
        self._hubs: dict[str, Hub] = {}

    def hub(self, name: str) -> Hub:
        """The hub called `name`, whatever its case."""
        key = name.lower()
        hub = self._hubs.get(key)
        if hub is None:
            hub = self._hubs[key] = Hub(key, reconnect_grace_seconds=self._grace_seconds)
        return hub


def _discard(index: dict[str, dict[str, ClientConnection]], key: str, connection_id: str) -> None:
    members = index.get(key)
    if members is not None:
        members.pop(connection_id, None)
        if not members:
            del index[key]
