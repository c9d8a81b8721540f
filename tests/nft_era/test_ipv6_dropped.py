"""The nft era's answer to the IPv6 bypass (lab with `--era nft --ipv6`): COI's `ip6 coi`
drop (`coi6-<name>`) holds a restricted container's routed IPv6, and coi-tui says so instead
of flagging it. Uses coi-lab-3 only."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests import lab_support as lab
from tests.integration.test_ipv6_bypass import LAN6, NAME, ipv6_checks, ipv6_on, reaches, record
from tests.nft_era.test_nft_era import coi_tui

pytestmark = pytest.mark.lab


@pytest.fixture
def ipv6_nft_lab() -> Iterator[None]:
    with ipv6_on("--era", "nft"):
        yield


def test_coi_ip6_drop_holds_routed_ipv6_and_is_shown_as_such(ipv6_nft_lab: None) -> None:
    applied = coi_tui("apply", NAME, "--mode", "restricted")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert not reaches(f"http://[{LAN6}]/")  # COI's drop on its veth
    assert not reaches(f"http://{lab.LAN_HOST}/")
    assert reaches(f"http://{lab.INTERNET_HOST}/")
    mine = record()
    assert (mine["ipv6"], mine["ipv6_dropped"], mine["ipv6_bypass"]) == ("global", True, False)
    (held,) = [c for c in ipv6_checks() if c["name"] == f"ipv6 {NAME}"]
    assert (held["level"], held["summary"]) == ("ok", "IPv6 dropped by COI (ip6 coi)")
    status = coi_tui("status")
    assert not any(line.startswith("IPv6!") for line in status.stdout.splitlines())
