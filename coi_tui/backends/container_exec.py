"""Commands inside a container through Incus's exec API, as `incus exec NAME -- ARGV…` runs
them (as root, no terminal, no stdin).

The exec runs with `record-output`: no websocket, Incus keeps stdout and stderr in two log
files that are read and deleted afterwards. Used to read and rewrite the container's
/etc/hosts as COI does (eras/nft/hosts_file.py).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pylxd import Client
from pylxd.exceptions import NotFound

from coi_tui.backends.incus import _incus_errors, find_socket
from coi_tui.errors import BackendUnavailable, BadInput
from coi_tui.models import Container


@dataclass(frozen=True)
class ExecResult:
    returncode: int
    stdout: str
    stderr: str


class ContainerShell(Protocol):
    """Runs a command in a container (Incus exec, or a fake in tests)."""

    def run(self, container: Container, argv: Sequence[str]) -> ExecResult: ...

    def close(self) -> None: ...


class IncusExec:
    """One client per instance; an exec takes one POST, one wait and two small reads."""

    def __init__(self, env: Mapping[str, str] = os.environ, timeout: float = 20) -> None:
        self.socket: Path = find_socket(env)
        self._timeout = timeout
        with _incus_errors(self.socket):
            self._client = Client(endpoint=str(self.socket), timeout=(3, timeout + 5))

    def run(self, container: Container, argv: Sequence[str]) -> ExecResult:
        params = {"project": container.project}
        with _incus_errors(self.socket):
            api = self._client.api.instances[container.name]
            try:
                response = api["exec"].post(params=params, json={
                    "command": list(argv), "environment": {}, "interactive": False,
                    "wait-for-websocket": False, "record-output": True})
            except NotFound as error:
                raise BadInput(f"no such container: {container.name}") from error
            operation = str(response.json()["operation"]).rsplit("/", 1)[-1]
            waited = self._client.api.operations[operation].wait.get(
                params={"timeout": int(self._timeout)}).json()["metadata"]
            if waited.get("status") != "Success":
                raise BackendUnavailable(
                    f"{container.name}: exec {argv[0]} did not finish: "
                    f"{waited.get('err') or waited.get('status')}")
            meta = waited.get("metadata") or {}
            output = meta.get("output") or {}
            texts = {fd: self._log(api, path, params) for fd, path in output.items()}
        return ExecResult(int(meta.get("return", -1)), texts.get("1", ""), texts.get("2", ""))

    @staticmethod
    def _log(api: object, path: str, params: Mapping[str, str]) -> str:
        # /1.0/instances/NAME/logs/exec-output/exec_ID.stdout (older servers: logs/exec_ID…)
        parts = path.split("/logs/", 1)[-1].split("/")
        node = api.logs  # type: ignore[attr-defined]
        for part in parts:
            node = node[part]
        # is_api=False: raw output, which pylxd would otherwise parse as JSON ("1" broke it)
        text = node.get(params=params, is_api=False).content.decode("utf-8", "replace")
        with contextlib.suppress(Exception):  # a log left behind is harmless
            node.delete(params=params)
        return str(text)

    def close(self) -> None:
        session = getattr(self._client.api, "session", None)
        if session is not None:
            session.close()
