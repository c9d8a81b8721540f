"""Resolving the allowlist against the lab's real DNS server: answers, TTLs, failures, and the
rebinding guard (a domain that points into the LAN is refused)."""

from __future__ import annotations

import pytest

from coi_tui.services.resolve import make_resolver, resolve_allowlist
from tests import lab_support as lab

pytestmark = pytest.mark.lab


def test_domains_resolve_literals_pass_and_rebinding_is_refused() -> None:
    lab.require_lab()
    resolver = make_resolver("127.0.0.1:5353")
    result = resolve_allowlist(
        ["api.lab.test", "multi.lab.test", "rebind.lab.test", "nx.lab.test", "198.51.100.7"],
        resolver=resolver,
    )
    assert result.ips == ("198.51.100.7", "203.0.113.10", "203.0.113.20")
    assert result.blocked == {"rebind.lab.test": ("192.168.77.2",)}
    assert set(result.failed) == {"nx.lab.test"}
    assert result.ttls["api.lab.test"] == 300


def test_local_network_access_lets_a_lan_answer_through() -> None:
    lab.require_lab()
    result = resolve_allowlist(["rebind.lab.test"], allow_local=True,
                               resolver=make_resolver("127.0.0.1:5353"))
    assert result.ips == ("192.168.77.2",) and not result.blocked
