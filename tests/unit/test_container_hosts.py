"""The container's /etc/hosts blocks byte for byte as COI's hosts.go renders them, COI's own
script (run here by the host's sh and awk on a scratch file: same result as the Python model,
and the file keeps its inode), and the plan step that writes one after the firewall."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from coi_tui.eras.nft.hosts_file import (
    ALLOWLIST_BEGIN,
    HostsBlockStep,
    allowlist_block,
    allowlist_names,
    coi_script,
    find_block,
    has_block,
    hosts_block,
    render_allowlist_block,
    render_hosts_block,
    replace_block,
)
from coi_tui.models import Container, HostEntry
from tests.unit.hosts_fakes import FakeShell

BOX = Container("coi-lab-3", "default", "Running", "10.147.0.130", "veth3", "incusbr0", None)


def test_the_allowlist_block_bytes_are_coi_s() -> None:
    text = render_allowlist_block({
        "www.lab.test": ["203.0.113.20", "203.0.113.10"],
        "api.lab.test": ["203.0.113.100"],
    })
    assert text.encode() == (
        b"# BEGIN coi allowlist (managed by coi \xe2\x80\x94 edits will be overwritten)\n"
        b"203.0.113.100\tapi.lab.test\n"  # domains sorted
        b"203.0.113.10\twww.lab.test\n"  # each one's addresses sorted as text (Go sort.Strings)
        b"203.0.113.20\twww.lab.test\n"
        b"# END coi allowlist"  # no final newline: the script's heredoc adds it
    )


def test_coi_s_own_render_test_case() -> None:
    # internal/network/hosts_test.go TestRenderHostsBlock
    got = render_allowlist_block({"oauth2.googleapis.com": ["142.251.127.95"],
                                  "api.anthropic.com": ["160.79.104.10"]})
    assert got == (ALLOWLIST_BEGIN + "\n160.79.104.10\tapi.anthropic.com\n"
                   "142.251.127.95\toauth2.googleapis.com\n# END coi allowlist")
    assert render_allowlist_block({}) == ALLOWLIST_BEGIN + "\n# END coi allowlist"


def test_the_hosts_block_bytes_are_coi_s() -> None:
    text = render_hosts_block([HostEntry("192.168.77.2", ("redmine", "git.lan")),
                               HostEntry("10.9.9.9", ("b", "a"), (443,))])
    assert text.encode() == (
        b"# BEGIN coi hosts (managed by coi \xe2\x80\x94 edits will be overwritten)\n"
        b"10.9.9.9\ta b\n"  # entries by ip, names sorted, one space between
        b"192.168.77.2\tgit.lan redmine\n"
        b"# END coi hosts"
    )


def test_the_script_is_coi_s_replace_managed_hosts_block() -> None:
    block = allowlist_block({"www.lab.test": ["203.0.113.10"]})
    assert coi_script(block) == (
        "set -e\n"
        "tmp=$(mktemp)\n"
        "awk -v b='# BEGIN coi allowlist (managed by coi \u2014 edits will be overwritten)' "
        "-v e='# END coi allowlist' '\n"
        "  index($0, b) == 1 { inblock = 1; buf = $0 ORS; next }\n"
        "  inblock && index($0, e) == 1 { inblock = 0; buf = \"\"; next }\n"
        "  inblock { buf = buf $0 ORS; next }\n"
        "  { print }\n"
        "  END { if (inblock) printf \"%s\", buf }\n"
        "' /etc/hosts > \"$tmp\"\n"
        "cat >> \"$tmp\" <<'COI_HOSTS_EOF'\n"
        "# BEGIN coi allowlist (managed by coi \u2014 edits will be overwritten)\n"
        "203.0.113.10\twww.lab.test\n"
        "# END coi allowlist\n"
        "COI_HOSTS_EOF\n"
        "cat \"$tmp\" > /etc/hosts\n"
        "rm -f \"$tmp\"\n"
    )


OLD = allowlist_block({"www.lab.test": ["203.0.113.10"]})
NEW = allowlist_block({"www.lab.test": ["203.0.113.20"], "www2.lab.test": ["203.0.113.20"]})
USER = hosts_block([HostEntry("192.168.77.2", ("lan",))])
FILES = [
    "",
    "127.0.0.1\tlocalhost\n",
    "127.0.0.1\tlocalhost",  # no final newline: awk's print adds one
    "127.0.0.1\tlocalhost\n" + OLD.text + "\n",
    "127.0.0.1\tlocalhost\n" + OLD.text + "\n" + USER.text + "\n::1\tip6-localhost\n",
    "127.0.0.1\tlocalhost\n" + OLD.text + "\n" + OLD.text + "\n",  # twice: both go
    "127.0.0.1\tlocalhost\n" + ALLOWLIST_BEGIN + "\n1.2.3.4\tx\n",  # unterminated: kept
    "# END coi allowlist\n10.0.0.1\tkeep\n",  # a stray END marker is an ordinary line
]


@pytest.mark.parametrize("before", FILES)
@pytest.mark.parametrize("block", [NEW, USER])
def test_coi_s_script_in_a_real_shell_does_what_the_model_says_and_keeps_the_inode(
        tmp_path: Path, before: str, block: object) -> None:
    assert block is NEW or block is USER
    target = tmp_path / "hosts"
    target.write_text(before, encoding="utf-8")
    inode = os.stat(target).st_ino
    done = subprocess.run(["sh", "-c", coi_script(block, str(target))], capture_output=True,
                          text=True, timeout=10, env={**os.environ, "TMPDIR": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    after = target.read_text(encoding="utf-8")
    assert after == replace_block(before, block)
    assert os.stat(target).st_ino == inode  # rewritten in place (`cat >`), never replaced
    assert has_block(after, block) and after.endswith(block.text + "\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hosts"]  # the temp file is gone


def test_rewriting_moves_the_block_to_the_end_and_keeps_the_other() -> None:
    text = "127.0.0.1\tlocalhost\n" + OLD.text + "\n" + USER.text + "\n"
    after = replace_block(text, NEW)
    assert after == "127.0.0.1\tlocalhost\n" + USER.text + "\n" + NEW.text + "\n"
    assert allowlist_names(after) == {"www.lab.test": ("203.0.113.20",),
                                      "www2.lab.test": ("203.0.113.20",)}
    assert allowlist_names("127.0.0.1\tlocalhost\n") is None
    assert find_block(after, USER.begin, USER.end) == ("192.168.77.2\tlan",)


def test_the_step_shows_the_block_writes_it_with_coi_s_script_and_reads_it_back() -> None:
    shell = FakeShell()
    step = HostsBlockStep(BOX, NEW, "why", lambda: shell)
    assert [str(line) for line in step.lines()] == [
        f"~ /etc/hosts of coi-lab-3, in place: {ALLOWLIST_BEGIN} (2 line(s))",
        "~ /etc/hosts: 203.0.113.20\twww.lab.test",
        "~ /etc/hosts: 203.0.113.20\twww2.lab.test",
    ]
    assert step.verify(lambda: ()) == ("/etc/hosts of coi-lab-3: coi allowlist block: "
                                       "the file does not hold the block as written",)
    assert step.run(None) == "/etc/hosts rewritten in place, 2 line(s)"  # type: ignore[arg-type]
    assert shell.argvs[-1] == ["sh", "-c", coi_script(NEW)]
    assert step.verify(lambda: ()) == ()
    assert shell.text == "127.0.0.1\tlocalhost\n" + NEW.text + "\n"


def test_a_failed_write_is_an_error_naming_the_container() -> None:
    step = HostsBlockStep(BOX, NEW, "", lambda: FakeShell(fail="sh: awk: not found"))
    with pytest.raises(Exception, match="coi-lab-3: failed to write the coi allowlist block "
                                        "of /etc/hosts: sh: awk: not found"):
        step.run(None)  # type: ignore[arg-type]
