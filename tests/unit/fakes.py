"""In-memory stand-ins for UI tests of states the lab cannot produce on demand.

Never used to test a backend itself: those tests run against the real daemons.
"""

from __future__ import annotations

from coi_tui.eras.firewalld.rules import DirectRule
from coi_tui.errors import BackendUnavailable, FirewallDown
from coi_tui.models import Container, Network


class FakeContainers:
    def __init__(self, containers: list[Container]) -> None:
        self.containers = containers
        self.down: str | None = None

    def list_containers(self) -> list[Container]:
        if self.down:
            raise BackendUnavailable(self.down)
        return list(self.containers)

    def get_network(self, name: str) -> Network | None:
        return Network(name, "10.147.0.1/24")

    def set_config(self, container: Container, key: str, value: str | None) -> None:
        raise NotImplementedError

    def set_frozen(self, container: Container, frozen: bool) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass


class FakeFirewall:
    name = "fake"

    def __init__(self, rules: list[DirectRule] | None = None) -> None:
        self.rules = list(rules or [])
        self.down: str | None = None  # unreachable or unreadable: the reason
        self.stopped = False  # firewalld not running (its rules flushed)

    def _check(self) -> None:
        if self.stopped:
            raise FirewallDown("firewalld is not running")
        if self.down:
            raise BackendUnavailable(self.down)

    def state(self) -> str:
        self._check()
        return "running"

    def list_rules(self) -> list[DirectRule]:
        self._check()
        return list(self.rules)

    def add_rule(self, rule: DirectRule) -> bool:
        self._check()
        if rule in self.rules:
            return False
        self.rules.append(rule)
        return True

    def remove_rule(self, rule: DirectRule) -> bool:
        self._check()
        if rule not in self.rules:
            return False
        self.rules.remove(rule)
        return True

    def query_rule(self, rule: DirectRule) -> bool:
        self._check()
        return rule in self.rules

    def zone_of_interface(self, interface: str) -> str | None:
        return "trusted"

    def remove_interface(self, zone: str, interface: str) -> bool:
        return False

    def zone_bindings(self) -> dict[str, tuple[str, ...]]:
        return {"trusted": ("incusbr0",)}

    def masquerade_enabled(self) -> bool:
        return False

    def close(self) -> None:
        pass


def lab_like_container(name: str, ip: str | None) -> Container:
    return Container(
        name=name,
        project="default",
        status="Running" if ip else "Stopped",
        ipv4=ip,
        veth=f"veth{abs(hash(name)) % 10**8:08d}" if ip else None,
        network="incusbr0",
        mode_key=None,
    )
