"""Interfaces the services depend on. Implementations live beside this module (Incus, links)
and in each era's package (the firewall)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from coi_tui.models import CoiRule, Container, Network


class FirewallBackend(Protocol):
    """The firewall that holds COI's rules, as every layer above the eras reads it: firewalld
    (firewalld era) or nft (nft era). What an era changes, and how, is the era's own (its plan
    steps know their firewall)."""

    name: str

    def state(self) -> str: ...
    def list_rules(self) -> Sequence[CoiRule]: ...
    def close(self) -> None: ...


class ContainerBackend(Protocol):
    def list_containers(self) -> list[Container]: ...
    def get_network(self, name: str) -> Network | None: ...
    def set_config(self, container: Container, key: str, value: str | None) -> None: ...
    def set_frozen(self, container: Container, frozen: bool) -> None: ...
    def close(self) -> None: ...


# Called from a backend thread; must be cheap and thread-safe (e.g. App.post_message).
EventSink = Callable[[str, dict[str, object]], None]
