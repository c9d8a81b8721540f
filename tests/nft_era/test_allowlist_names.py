"""Names resolve inside an allowlist container (COI >= 0.11, the nft era), against the lab on
coi-lab-3 only: the allowlist blocks DNS, so coi-tui writes COI's `# BEGIN coi allowlist`
block into the container's /etc/hosts (in place: same inode), firewall first, file second;
`hget NAME` works through it. The record moves: a refresh adds the new address (deleting
nothing: COI's resolved elements are permanent) and the block names the new answer, which is
where the container now connects. The old address stays in the set (still allowed by
address) and is shown as an old answer with its age; a prune by request takes it out of the
set, and the block still names only the current answer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from coi_tui.eras.nft.hosts_file import render_allowlist_block
from coi_tui.models import MODE_CONFIG_KEY
from tests import lab_support as lab

pytestmark = pytest.mark.lab

BOX = lab.CONTAINERS[2]  # coi-lab-3: this test's alone
NAME = f"names-{os.getpid()}.lab.test"  # our own record: no other test moves it
PAGE = "coi-lab internet host\n"


def coi_tui(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "coi_tui", *args], capture_output=True,
                          text=True, timeout=120)


def hget(name: str) -> subprocess.CompletedProcess[str]:
    return lab.run("incus", "exec", BOX, "--", "hget", "-T", "3", f"http://{name}/",
                   check=False, timeout=20)


def hosts_file() -> tuple[str, int]:
    """The container's /etc/hosts and its inode."""
    rc, out = lab.exec_in(BOX, ["sh", "-c", "stat -c %i /etc/hosts && cat /etc/hosts"])
    assert rc == 0, out
    inode, _, text = out.partition("\n")
    return text, int(inode)


def put_hosts(text: str) -> None:
    """Back as it was, in place (as COI writes it)."""
    subprocess.run(["incus", "exec", BOX, "--", "sh", "-c", "cat > /etc/hosts"], input=text,
                   text=True, capture_output=True, timeout=15, check=True)


def resolved_set(ip: str) -> list[str]:
    out = lab.run("nft", "-j", "list", "set", "ip", "coi", f"coi_d_{ip.replace('.', '_')}").stdout
    (item,) = [i["set"] for i in json.loads(out)["nftables"] if "set" in i]
    return sorted(str(e) for e in item.get("elem", []))


def flows_to(src: str, dst: str) -> set[str]:
    """Source ports of the container's HTTP connections to dst that conntrack remembers."""
    out = lab.run("conntrack", "-L", "-p", "tcp", "-s", src, "-d", dst, "--dport", "80",
                  check=False).stdout
    return {field.split("=", 1)[1] for line in out.splitlines()
            for field in line.split()[:8] if field.startswith("sport=")}


def clean() -> None:
    coi_tui("remove", BOX)
    lab.run("incus", "config", "unset", BOX, MODE_CONFIG_KEY, check=False)


@pytest.fixture
def allowlisted(tmp_path_factory: pytest.TempPathFactory,
                monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Path]]:
    """coi-lab-3 with no rules, a HOME whose COI config allows NAME only, NAME -> .10 in the
    lab DNS; afterwards: rules gone, /etc/hosts exactly as before, the record gone."""
    home = tmp_path_factory.mktemp("home")
    (home / ".coi").mkdir()
    (home / ".coi" / "config.toml").write_text(f'[network]\nallowed_domains = ["{NAME}"]\n')
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("COI_TUI_NAMESERVERS", "{}:{}".format(*lab.DNS_SERVER))
    clean()
    before, _inode = hosts_file()
    lab.dns_set(NAME, [lab.INTERNET_HOST], 60)
    try:
        yield lab.container_ip(BOX), home
    finally:
        clean()
        put_hosts(before)
        lab.dns_del(NAME)
        assert hosts_file()[0] == before


def test_names_resolve_through_coi_s_hosts_block_and_follow_a_moved_record(
        allowlisted: tuple[str, Path]) -> None:
    ip, _home = allowlisted
    original, inode = hosts_file()
    assert "# BEGIN coi allowlist" not in original

    # apply: firewall (one transaction), then the file
    applied = coi_tui("apply", BOX, "--mode", "allowlist")
    assert applied.returncode == 0, applied.stderr
    assert "[1/2] ok" in applied.stdout and "[2/2] ok" in applied.stdout
    assert "/etc/hosts rewritten in place, 1 line(s)" in applied.stdout
    text, now_inode = hosts_file()
    assert now_inode == inode  # rewritten in place, as COI's `cat >`
    assert text == original + render_allowlist_block({NAME: [lab.INTERNET_HOST]}) + "\n"
    assert text.encode().endswith(
        b"# BEGIN coi allowlist (managed by coi \xe2\x80\x94 edits will be overwritten)\n"
        + f"{lab.INTERNET_HOST}\t{NAME}\n".encode() + b"# END coi allowlist\n")
    assert resolved_set(ip) == [lab.INTERNET_HOST]

    # DNS is blocked by COI's rules: a name only the lab DNS knows does not resolve ...
    blocked = hget("www2.lab.test")
    assert blocked.returncode == 3 and "DNS refused" in blocked.stderr, blocked
    # ... and the allowlisted one resolves through the block alone
    seen = flows_to(ip, lab.INTERNET_HOST)
    first = hget(NAME)
    assert (first.returncode, first.stdout) == (0, PAGE), first
    assert flows_to(ip, lab.INTERNET_HOST) - seen  # it connected to .10

    # the record moves; a refresh adds .20 (no delete) and names it in the block
    lab.dns_set(NAME, [lab.INTERNET_HOST_2], 60)
    refreshed = coi_tui("dns", "--refresh")
    assert refreshed.returncode == 0, refreshed.stderr
    assert "[1/2] ok" in refreshed.stdout and "[2/2] ok" in refreshed.stdout
    assert "delete" not in refreshed.stdout
    assert resolved_set(ip) == [lab.INTERNET_HOST, lab.INTERNET_HOST_2]  # .10 stays
    text, now_inode = hosts_file()
    assert now_inode == inode
    # COI's refresh writes what it just resolved: the block names .20 only
    assert text == original + render_allowlist_block({NAME: [lab.INTERNET_HOST_2]}) + "\n"
    seen_old, seen_new = flows_to(ip, lab.INTERNET_HOST), flows_to(ip, lab.INTERNET_HOST_2)
    again = hget(NAME)
    assert (again.returncode, again.stdout) == (0, PAGE), again
    assert flows_to(ip, lab.INTERNET_HOST_2) - seen_new  # now to .20
    assert not flows_to(ip, lab.INTERNET_HOST) - seen_old  # not to .10
    assert lab.http_get(BOX, lab.INTERNET_HOST)  # the old answer: still allowed by address

    # nothing more to do; the old answer is shown with its age
    quiet = coi_tui("dns", "--refresh")
    assert quiet.returncode == 0 and "[1/" not in quiet.stdout, quiet.stdout
    shown = json.loads(coi_tui("dns", "--json").stdout)
    (pins,) = [c for c in shown["containers"] if c["name"] == BOX]
    assert pins["hosts_file"] == "in step"
    (old,) = pins["old_answers"]
    assert old["ip"] == lab.INTERNET_HOST and old["answered"] is True
    assert 0 <= old["age_seconds"] < 120

    # prune, by request: --dry-run changes nothing, then one transaction and the block
    dry = coi_tui("dns", "--prune", BOX, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert f"- delete element ip coi coi_d_{ip.replace('.', '_')} {{ {lab.INTERNET_HOST} }}" \
        in dry.stdout
    assert resolved_set(ip) == [lab.INTERNET_HOST, lab.INTERNET_HOST_2]
    pruned = coi_tui("dns", "--prune", BOX)
    assert pruned.returncode == 0, pruned.stderr + pruned.stdout
    assert "[1/2] ok" in pruned.stdout and "[2/2] ok" in pruned.stdout
    assert resolved_set(ip) == [lab.INTERNET_HOST_2]
    text, now_inode = hosts_file()
    assert now_inode == inode
    assert text == original + render_allowlist_block({NAME: [lab.INTERNET_HOST_2]}) + "\n"
    assert lab.INTERNET_HOST not in text
    assert not lab.http_get(BOX, lab.INTERNET_HOST)  # gone from the allowlist
    last = hget(NAME)
    assert (last.returncode, last.stdout) == (0, PAGE), last
    shown = json.loads(coi_tui("dns", "--json").stdout)
    (pins,) = [c for c in shown["containers"] if c["name"] == BOX]
    assert pins["old_answers"] == [] and pins["rule_ips"] == [lab.INTERNET_HOST_2]
