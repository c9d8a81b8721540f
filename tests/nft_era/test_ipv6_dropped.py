"""The nft era's IPv6 (lab with `--era nft --ipv6`): COI's `ip6 coi` drop (`coi6-<name>`,
`iifname <veth> drop` on the forward hook) is there and holds nothing, because a bridged
container's routed packet comes in on the bridge. The probe shows it; coi-tui flags the bypass
and says why, and `ipv6-off` closes it. Uses coi-lab-3 only."""

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


def test_coi_ip6_drop_holds_nothing_the_bypass_is_flagged_and_closed(
        ipv6_nft_lab: None) -> None:
    applied = coi_tui("apply", NAME, "--mode", "restricted")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert reaches(f"http://[{LAN6}]/")  # through COI's drop on its veth
    assert not reaches(f"http://{lab.LAN_HOST}/")
    assert reaches(f"http://{lab.INTERNET_HOST}/")
    mine = record()
    assert (mine["ipv6"], mine["ipv6_dropped"], mine["ipv6_bypass"]) == ("global", True, True)
    (warned,) = [c for c in ipv6_checks() if c["name"] == f"ipv6 {NAME}"]
    assert warned["level"] == "warn" and "drops nothing" in warned["summary"]
    status = coi_tui("status")
    assert any(line.startswith("IPv6!") for line in status.stdout.splitlines())
    fixed = coi_tui("ipv6-off", NAME, "--yes")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert not reaches(f"http://[{LAN6}]/")
    assert record()["ipv6"] == "off"
    assert not reaches(f"http://{lab.LAN_HOST}/")  # IPv4 as before
    assert reaches(f"http://{lab.INTERNET_HOST}/")
