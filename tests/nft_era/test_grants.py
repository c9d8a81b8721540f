"""Grants in COI's nft era (lab up --era nft), on coi-lab-1 in allowlist mode (DNS blocked):
a named, timed grant is an element of COI's `coi_d_`/`coi_dp_` sets with `timeout` and a line
of the `# BEGIN coi hosts` block, so the container reaches it BY NAME; when its time is up the
kernel drops the elements and the next expiry run takes the name out; `--save` writes
`name:port` to allowed_domains with every other byte kept; a LAN grant in restricted mode is
COI's scoped `insert rule`. HOME is a temp dir; coi-lab-1 is put back (`coi-tui remove`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from coi_tui.eras.nft.model import set_name
from tests import lab_support as lab

pytestmark = pytest.mark.lab

BOX = lab.CONTAINERS[0]  # coi-lab-1
HOST = f"grant-{os.getpid()}.lab.test"  # a name the allowlist does not list
TARGET = "203.0.113.20"
CONFIG = """# COI config with comments
[network]
mode = "allowlist"   # only what is listed
allowed_domains = [
  "api.lab.test",    # the API
]
"""


def coi_tui(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOME": str(home), "COI_TUI_NAMESERVERS": "127.0.0.1:5353"}
    env.pop("COI_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "coi_tui", *args], capture_output=True,
                          text=True, timeout=120, env=env)


def hget(name: str) -> bool:
    return lab.run("incus", "exec", BOX, "--", "hget", "-T", "3", f"http://{name}/",
                   check=False, timeout=20).returncode == 0


def hosts() -> str:
    rc, out = lab.exec_in(BOX, ["cat", "/etc/hosts"])
    assert rc == 0, out
    return out


def elements(kind: str) -> str:
    ip = lab.container_ip(BOX)
    return lab.run("nft", "list", "set", "ip", "coi", set_name(kind, ip), check=False).stdout


def run_ok(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    result = coi_tui(home, *args)
    assert result.returncode == 0, result.stderr
    return result


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / ".coi").mkdir()
    (tmp_path / ".coi" / "config.toml").write_text(CONFIG)
    run_ok(tmp_path, "apply", BOX, "--mode", "allowlist")
    try:
        yield tmp_path
    finally:
        run_ok(tmp_path, "remove", BOX)


def test_a_named_timed_grant_reaches_by_name_and_goes(home: Path) -> None:
    assert not hget(TARGET) and not hget(HOST)
    granted = run_ok(home, "allow", BOX, f"{TARGET}:80", "--name", HOST, "--for", "6s", "--yes")
    started = time.monotonic()
    assert f"{TARGET} timeout" in granted.stdout and f"{TARGET} . 80 timeout" in granted.stdout
    assert f"{TARGET}\t{HOST}" in hosts().split("# BEGIN coi hosts")[1]
    assert TARGET in elements("d") and "expires" in elements("d")
    assert hget(HOST)
    time.sleep(max(0.0, 6.5 - (time.monotonic() - started)))
    assert TARGET not in elements("d")  # the kernel's timeout
    expired = run_ok(home, "allow", "--list", "--json")
    assert f"grant for {BOX} to {HOST} ({TARGET}:80) expired" in expired.stderr
    assert json.loads(expired.stdout)["grants"] == []
    assert HOST not in hosts()
    assert not hget(HOST) and not hget(TARGET)


def test_save_writes_name_port_and_keeps_every_byte(home: Path) -> None:
    config = home / ".coi" / "config.toml"
    run_ok(home, "allow", BOX, f"{TARGET}:80", "--name", HOST, "--save", "--yes")
    assert hget(HOST)
    assert config.read_text() == CONFIG.replace(
        '  "api.lab.test",    # the API\n',
        f'  "api.lab.test",    # the API\n    "{HOST}:80",\n')
    revoked = run_ok(home, "allow", "--revoke", BOX, f"{TARGET}:80", "--yes")
    assert "revoked" in revoked.stderr
    assert TARGET not in elements("d")  # an untimed grant: taken out of the set by the plan
    assert HOST not in hosts().split("# BEGIN coi hosts")[1]


def test_a_lan_grant_in_restricted_mode_is_cois_scoped_line(home: Path) -> None:
    run_ok(home, "apply", BOX, "--mode", "restricted")
    assert not lab.http_get(BOX, "192.168.77.2")
    granted = run_ok(home, "allow", BOX, "192.168.77.2:80", "--for", "1h", "--yes")
    assert "insert rule ip coi forward" in granted.stdout
    assert "ip daddr 192.168.77.2/32 meta l4proto { tcp, udp } th dport { 80 } accept" \
        in granted.stdout
    assert lab.http_get(BOX, "192.168.77.2")
    refused = coi_tui(home, "allow", BOX, "169.254.77.1", "--yes")
    assert refused.returncode == 2 and "never granted" in refused.stderr
    run_ok(home, "allow", "--revoke", BOX, "192.168.77.2:80", "--yes")
    assert not lab.http_get(BOX, "192.168.77.2")
