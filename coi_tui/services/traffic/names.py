"""What each address was for, from the container's own answers. Never reverse DNS.

Two sources: the DNS answers the container got (the feed's NFLOG copy: restricted and open
mode ask the bridge's resolver), and for an allowlist container the names COI pinned (its
IP cache, which its /etc/hosts block is written from)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping

from coi_tui.services.traffic.dns_log import DnsSeen

PER_CLIENT = 4096  # answers kept per container: names, never payloads


class NameBook:
    def __init__(self) -> None:
        self._answered: dict[str, OrderedDict[str, str]] = {}
        self._pinned: dict[str, Mapping[str, str]] = {}

    def learn(self, seen: DnsSeen) -> None:
        if not seen.is_answer:
            return
        book = self._answered.setdefault(seen.client, OrderedDict())
        for address, _ttl in seen.answers:
            book[address] = seen.query
            book.move_to_end(address)
        while len(book) > PER_CLIENT:
            book.popitem(last=False)

    def pin(self, client: str, names: Mapping[str, str]) -> None:
        """`names`: address -> name, as COI pinned them for this container."""
        self._pinned[client] = dict(names)

    def forget(self, clients: set[str]) -> None:
        for book in (self._answered, self._pinned):
            for client in [c for c in book if c not in clients]:
                del book[client]

    def name(self, client: str, address: str) -> str | None:
        answered = self._answered.get(client)
        if answered is not None and address in answered:
            return answered[address]
        pinned = self._pinned.get(client)
        return pinned.get(address) if pinned is not None else None
