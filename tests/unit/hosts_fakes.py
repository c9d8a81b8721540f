"""A container's /etc/hosts in memory, changed as COI's script would change it."""

from __future__ import annotations

from collections.abc import Sequence

from coi_tui.backends.container_exec import ExecResult
from coi_tui.eras.nft.hosts_file import (
    ALLOWLIST_BEGIN,
    ALLOWLIST_END,
    HOSTS_BEGIN,
    HOSTS_END,
    Block,
    coi_script,
    replace_block,
)
from coi_tui.models import Container


def script_block(script: str) -> Block:
    """The block a script of COI's writes (and the script must be exactly COI's for it)."""
    body = script.split("<<'COI_HOSTS_EOF'\n", 1)[1].split("\nCOI_HOSTS_EOF\n", 1)[0]
    begin, end = ((ALLOWLIST_BEGIN, ALLOWLIST_END) if body.startswith(ALLOWLIST_BEGIN)
                  else (HOSTS_BEGIN, HOSTS_END))
    block = Block("allowlist" if begin == ALLOWLIST_BEGIN else "hosts", begin, end, body)
    assert coi_script(block) == script, "not COI's script"
    return block


class FakeShell:
    """A container's /etc/hosts in memory, changed as COI's script changes it."""

    def __init__(self, text: str = "127.0.0.1\tlocalhost\n", fail: str = "") -> None:
        self.text = text
        self.fail = fail
        self.argvs: list[list[str]] = []
        self.writes: list[str] = []

    def run(self, container: Container, argv: Sequence[str]) -> ExecResult:
        self.argvs.append(list(argv))
        if self.fail:
            return ExecResult(1, "", self.fail)
        if list(argv) == ["cat", "/etc/hosts"]:
            return ExecResult(0, self.text, "")
        assert list(argv[:2]) == ["sh", "-c"]
        block = script_block(argv[2])
        self.text = replace_block(self.text, block)
        self.writes.append(block.text)
        return ExecResult(0, "", "")

    def close(self) -> None:
        pass
