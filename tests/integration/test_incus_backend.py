"""The Incus backend against the real incusd: state, projects, config, errors."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from coi_tui.backends.incus import IncusBackend
from coi_tui.errors import BackendUnavailable
from tests import lab_support as lab
from tests.integration.conftest import PROJECT

pytestmark = pytest.mark.lab



def test_a_stopped_container_has_no_ip_and_says_stopped() -> None:
    lab.require_lab()
    with lab.launched("coi-lab-stop") as name:
        lab.incus("stop", "--force", name)
        (found,) = [c for c in IncusBackend().list_containers() if c.name == name]
        assert (found.status, found.ipv4) == ("Stopped", None)
        assert found.network == lab.BRIDGE


def test_all_projects_sees_every_project_and_one_project_only_its_own(
    second_project: str,
) -> None:
    everywhere = {(c.project, c.name) for c in IncusBackend(all_projects=True).list_containers()}
    default_only = {(c.project, c.name) for c in IncusBackend().list_containers()}
    assert (PROJECT, second_project) in everywhere
    assert ("default", lab.CONTAINERS[0]) in everywhere
    assert all(project == "default" for project, _ in default_only)
    assert {c.name for c in IncusBackend(project=PROJECT).list_containers()} == {second_project}


def test_set_config_round_trip() -> None:
    lab.require_lab()
    backend = IncusBackend()
    (target,) = [c for c in backend.list_containers() if c.name == lab.CONTAINERS[2]]
    backend.set_config(target, "user.coi-tui.test", "yes")
    assert lab.incus("config", "get", target.name, "user.coi-tui.test").strip() == "yes"
    backend.set_config(target, "user.coi-tui.test", None)
    assert lab.incus("config", "get", target.name, "user.coi-tui.test").strip() == ""


def test_the_gateway_comes_from_the_container_s_network() -> None:
    lab.require_lab()
    network = IncusBackend().get_network(lab.BRIDGE)
    assert network is not None and network.gateway == lab.GATEWAY


def test_no_socket_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(BackendUnavailable) as raised:
        IncusBackend(env={"INCUS_SOCKET": str(tmp_path / "absent.socket")})
    assert "Incus socket not found" in str(raised.value) and "\n" not in str(raised.value)


def test_a_socket_nobody_answers_is_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "dead.socket"
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(path))  # bound, never listening: connections are refused
    try:
        with pytest.raises(BackendUnavailable) as raised:
            IncusBackend(env={"INCUS_SOCKET": str(path)}).list_containers()
        assert "not answering" in str(raised.value) and "\n" not in str(raised.value)
    finally:
        dead.close()


def test_no_permission_on_the_socket_says_so_in_one_line() -> None:
    lab.require_lab()
    script = (
        "from coi_tui.backends.incus import IncusBackend\n"
        "from coi_tui.errors import CoiTuiError\n"
        "try:\n    IncusBackend().list_containers()\n"
        "except CoiTuiError as e:\n    print(type(e).__name__ + ': ' + str(e))\n"
    )
    out = subprocess.run(["runuser", "-u", "nobody", "--", sys.executable, "-c", script],
                         capture_output=True, text=True, timeout=60, cwd="/").stdout.strip()
    assert out.startswith("PermissionDenied: ") and "incus-admin" in out, out
