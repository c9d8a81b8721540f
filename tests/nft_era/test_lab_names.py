"""Names in the lab: inside a container `hget` (static musl, scripts/lab.d/hget.c) resolves
through /etc/hosts as COI's allowlist mode leaves it (DNS rejected, COI's block the only
resolver), and fails with one clear line on a name nobody knows (never a crash: busybox wget
segfaults on its own timeout); on the host the lab DNS serves the allowlist-ready names
www.lab.test and www2.lab.test."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

import dns.rcode
import dns.resolver
import pytest

from coi_tui.services.resolve import make_resolver, resolve_allowlist
from tests import lab_support as lab

pytestmark = pytest.mark.lab

CONTAINER = lab.CONTAINERS[0]
PAGE = "coi-lab internet host\n"
# our own names (with the PID): a test elsewhere never owns them, the lab DNS never knows them
HOSTS_ONLY = f"hosts-{os.getpid()}.lab.test"
UNKNOWN = f"nowhere-{os.getpid()}.lab.test"
COI_BLOCK = ("# BEGIN coi allowlist (managed by coi \u2014 edits will be overwritten)\n"
             "{lines}# END coi allowlist\n")


def hget(*args: str, timeout: float = 15) -> subprocess.CompletedProcess[str]:
    return lab.run("incus", "exec", CONTAINER, "--", "hget", *args, timeout=timeout, check=False)


def write_file(path: str, text: str) -> None:
    subprocess.run(["incus", "exec", CONTAINER, "--", "sh", "-c", f"cat > {path}"], input=text,
                   text=True, capture_output=True, timeout=15, check=True)


@contextmanager
def hosts_lines(*lines: str) -> Iterator[None]:
    """COI's allowlist block with these lines appended to the container's /etc/hosts, and the
    file exactly as it was afterwards (or gone again, if it was not there)."""
    before = lab.run("incus", "exec", CONTAINER, "--", "cat", "/etc/hosts", check=False)
    original = before.stdout if before.returncode == 0 else None
    write_file("/etc/hosts", (original or "") + COI_BLOCK.format(lines="".join(
        line + "\n" for line in lines)))
    try:
        yield
    finally:
        if original is None:
            lab.run("incus", "exec", CONTAINER, "--", "rm", "-f", "/etc/hosts")
        else:
            write_file("/etc/hosts", original)
        after = lab.run("incus", "exec", CONTAINER, "--", "cat", "/etc/hosts", check=False)
        assert (after.stdout if after.returncode == 0 else None) == original


@contextmanager
def dns_rejected() -> Iterator[None]:
    """DNS as COI's allowlist mode leaves it: the container's queries to the gateway rejected
    (COI's input rule `th dport 53 reject`), here in a table of this test's own."""
    ip, table = lab.container_ip(CONTAINER), f"coi_lab_names_{os.getpid()}"
    subprocess.run(["nft", "-f", "-"], text=True, capture_output=True, timeout=15, check=True,
                   input=f"add table ip {table}\n"
                         f"add chain ip {table} input {{ type filter hook input priority -5 ; }}\n"
                         f"add rule ip {table} input ip saddr {ip} meta l4proto {{ tcp, udp }} "
                         f"th dport 53 reject\n")
    try:
        yield
    finally:
        lab.run("nft", "delete", "table", "ip", table)


def lab_dns(name: str) -> dns.resolver.Answer | int:
    """The lab DNS server's answer, or its rcode when it has none."""
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers, resolver.port = [lab.DNS_SERVER[0]], lab.DNS_SERVER[1]
    try:
        return resolver.resolve(name, "A", lifetime=3)
    except dns.resolver.NXDOMAIN:
        return dns.rcode.NXDOMAIN


@pytest.fixture(autouse=True)
def container_has_hget() -> None:
    rc, out = lab.exec_in(CONTAINER, ["test", "-x", "/usr/bin/hget"])
    assert rc == 0, f"{CONTAINER} has no /usr/bin/hget (outdated image?): scripts/lab up {out}"


def test_the_hosts_file_alone_resolves_a_name() -> None:
    assert lab_dns(HOSTS_ONLY) == dns.rcode.NXDOMAIN  # only /etc/hosts can know it
    with hosts_lines(f"{lab.INTERNET_HOST}\t{HOSTS_ONLY}"):
        result = hget(f"http://{HOSTS_ONLY}/")
        assert (result.returncode, result.stdout, result.stderr) == (0, PAGE, "")
        with_port = hget(f"http://{HOSTS_ONLY}:80/index.html")
        assert (with_port.returncode, with_port.stdout) == (0, PAGE)
    gone = hget(f"http://{HOSTS_ONLY}/")
    assert gone.returncode == 3, gone  # restored: the name is unknown again


def test_an_unknown_name_fails_with_one_clear_line() -> None:
    assert lab_dns(UNKNOWN) == dns.rcode.NXDOMAIN
    with hosts_lines(f"{lab.INTERNET_HOST}\t{HOSTS_ONLY}"):  # a hosts file that names others
        result = hget(f"http://{UNKNOWN}/")
    # exit 3 (not 139, not a signal: busybox wget segfaults right there)
    assert (result.returncode, result.stdout) == (3, ""), result
    assert result.stderr == f"hget: {UNKNOWN}: cannot resolve: Name does not resolve\n"


def test_with_dns_rejected_the_hosts_file_is_the_only_resolver() -> None:
    with dns_rejected(), hosts_lines(f"{lab.INTERNET_HOST}\twww.lab.test"):
        listed = hget("http://www.lab.test/")
        assert (listed.returncode, listed.stdout, listed.stderr) == (0, PAGE, "")
        start = time.monotonic()
        unlisted = hget("http://www2.lab.test/")  # the lab DNS knows it: DNS is what is blocked
        assert time.monotonic() - start < 2  # at once, not after the resolver's timeout
        assert (unlisted.returncode, unlisted.stderr) == (
            3, f"hget: www2.lab.test: cannot resolve: not in /etc/hosts, and DNS refused "
               f"({lab.GATEWAY})\n")
    again = hget("http://www2.lab.test/")
    assert (again.returncode, again.stdout) == (0, PAGE)  # DNS answers again


def test_errors_and_the_timeout_are_one_line_each() -> None:
    not_found = hget(f"http://{lab.INTERNET_HOST}/no-such-page")
    assert (not_found.returncode, not_found.stdout) == (8, "")
    url = f"http://{lab.INTERNET_HOST}/no-such-page"
    assert not_found.stderr == f"hget: {url}: HTTP 404 Not Found\n"
    refused = hget(f"http://{lab.INTERNET_HOST}:81/")
    assert refused.returncode == 4
    assert refused.stderr == (f"hget: {lab.INTERNET_HOST} port 81: connect failed: "
                              "Connection refused\n")
    # drop.lab.test: the lab DNS never answers; -T bounds the whole request
    start = time.monotonic()
    slow = hget("-T", "1", "http://drop.lab.test/")
    assert time.monotonic() - start < 3
    assert (slow.returncode, slow.stderr) == (5, "hget: timeout (1s) resolving drop.lab.test\n")
    usage = hget("https://www.lab.test/")
    assert (usage.returncode, usage.stderr) == (2,
                                                "hget: https://www.lab.test/: only http:// URLs\n")


def test_the_allowlist_ready_names_resolve_on_the_host() -> None:
    result = resolve_allowlist(["www.lab.test", "www2.lab.test"],
                               resolver=make_resolver("{}:{}".format(*lab.DNS_SERVER)))
    assert result.ips == (lab.INTERNET_HOST, lab.INTERNET_HOST_2)
    assert not result.failed and not result.blocked
    assert result.ttls == {"www.lab.test": 300, "www2.lab.test": 300}


def test_a_served_name_answers_by_dns_inside_the_container_too() -> None:
    """No hosts line: the container asks the bridge's dnsmasq, which forwards to the lab DNS."""
    result = hget("http://www2.lab.test/")
    assert (result.returncode, result.stdout) == (0, PAGE), result
