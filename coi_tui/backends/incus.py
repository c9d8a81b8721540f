"""Incus over its unix socket with pylxd: instances with state in one call, networks, events.

Every failure surfaces as a one-line CoiTuiError; no pylxd or requests traceback leaks out.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

os.environ.setdefault("PYLXD_WARNINGS", "none")  # unknown-field warnings would print over the TUI

import requests
from pylxd import Client
from pylxd.client import EventType, _WebsocketClient
from pylxd.exceptions import ClientConnectionFailed, LXDAPIException, NotFound
from pylxd.models.operation import Operation

from coi_tui.backends.base import EventSink
from coi_tui.errors import BackendUnavailable, BadInput, PermissionDenied
from coi_tui.models import FROZEN_BY_GUARD_KEY, MODE_CONFIG_KEY, Container, Ipv6, Network

SOCKET_NAME = "unix.socket"
# (connect, read) seconds. Changes wait for Incus's operations; a poll must not: a hung incusd
# held each snapshot (and so the firewall read after it) for the full 15 s read timeout.
TIMEOUT = (3.0, 15.0)
POLL_TIMEOUT = (2.0, 5.0)


def socket_candidates(env: Mapping[str, str] = os.environ) -> list[Path]:
    """Incus's own client order: INCUS_SOCKET, INCUS_DIR, /run/incus, /var/lib/incus."""
    if env.get("INCUS_SOCKET"):
        return [Path(env["INCUS_SOCKET"])]
    if env.get("INCUS_DIR"):
        return [Path(env["INCUS_DIR"]) / SOCKET_NAME]
    return [Path("/run/incus") / SOCKET_NAME, Path("/var/lib/incus") / SOCKET_NAME]


def find_socket(env: Mapping[str, str] = os.environ) -> Path:
    candidates = socket_candidates(env)
    for path in candidates:
        if path.exists():
            return path
    tried = ", ".join(str(p) for p in candidates)
    raise BackendUnavailable(f"Incus socket not found (tried {tried}): is incusd running?")


@contextlib.contextmanager
def _incus_errors(socket: Path) -> Iterator[None]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    except PermissionError as error:
        raise _no_permission(socket) from error
    except (ClientConnectionFailed, requests.exceptions.ConnectionError) as error:
        if "Permission denied" in str(error) or "Errno 13" in str(error):
            raise _no_permission(socket) from error
        reason = f"Incus at {socket} is not answering: is incusd running?"
        raise BackendUnavailable(reason) from error
    except requests.exceptions.Timeout as error:
        raise BackendUnavailable(f"Incus at {socket} timed out") from error
    except LXDAPIException as error:
        raise BackendUnavailable(f"Incus refused: {error}") from error


def _no_permission(socket: Path) -> PermissionDenied:
    return PermissionDenied(
        f"no permission on the Incus socket {socket}: join the incus-admin group (or run as root)"
    )


def _ipv4(nic: Mapping[str, Any] | None) -> str | None:
    for address in (nic or {}).get("addresses") or []:
        if address.get("family") == "inet":
            return str(address["address"])
    return None


def ipv6_of(network: Mapping[str, Any]) -> Ipv6:
    """Every interface but loopback counts: IPv6 on any of them passes IPv4 rules."""
    inet6 = [ipaddress.IPv6Address(str(a["address"]).split("%")[0])
             for name, nic in network.items()
             if name != "lo" and (nic or {}).get("type") != "loopback"
             for a in (nic or {}).get("addresses") or [] if a.get("family") == "inet6"]
    if any(not a.is_link_local for a in inet6):
        return Ipv6.GLOBAL
    return Ipv6.LINK_LOCAL if inet6 else Ipv6.OFF


def container_from_api(raw: Mapping[str, Any]) -> Container:
    """Maps one `recursion=2` instance record of the Incus API to a Container."""
    state = raw.get("state") or {}
    eth0 = (state.get("network") or {}).get("eth0")
    config = raw.get("expanded_config") or raw.get("config") or {}
    device = (raw.get("expanded_devices") or {}).get("eth0") or {}
    return Container(
        name=raw["name"],
        project=raw.get("project") or "default",
        status=raw.get("status") or "Unknown",
        ipv4=_ipv4(eth0),
        veth=(eth0 or {}).get("host_name") or config.get("volatile.eth0.host_name") or None,
        network=device.get("network") or device.get("parent") or None,
        mode_key=config.get(MODE_CONFIG_KEY),
        type=raw.get("type") or "container",
        held=config.get(FROZEN_BY_GUARD_KEY) == "true",
        hwaddr=config.get("volatile.eth0.hwaddr") or device.get("hwaddr") or None,
        static_ipv4=device.get("ipv4.address") or None,
        ipv6=ipv6_of(state.get("network") or {}),
    )


class IncusBackend:
    """One pylxd client; not thread-safe, so each worker thread uses its own backend."""

    def __init__(
        self,
        project: str | None = "default",
        all_projects: bool = False,
        env: Mapping[str, str] = os.environ,
        timeout: tuple[float, float] = TIMEOUT,
    ) -> None:
        self.project = None if all_projects else (project or "default")
        self.all_projects = all_projects
        self.socket = find_socket(env)
        with _incus_errors(self.socket):
            self._client = Client(endpoint=str(self.socket), timeout=timeout)

    def list_containers(self) -> list[Container]:
        # One request with state for every instance (pylxd's own .all() drops the state).
        params: dict[str, str | int | None] = {"recursion": 2}
        params |= {"all-projects": "true"} if self.all_projects else {"project": self.project}
        with _incus_errors(self.socket):
            response = self._client.api.instances.get(params=params)
        return [container_from_api(raw) for raw in response.json()["metadata"]]

    def get_network(self, name: str) -> Network | None:
        # networks.get, never networks.all(): unrelated links such as ifb0 make .all() fail
        try:
            with _incus_errors(self.socket):
                network = self._client.networks.get(name)
        except NotFound:
            return None
        return Network(name, network.config.get("ipv4.address"))

    def leases(self, network: str) -> dict[str, str]:
        """DHCP leases and static allocations of a managed network: MAC -> IPv4. dnsmasq keeps
        a lease after its instance stops, so it tells a stopped instance's last address."""
        try:
            with _incus_errors(self.socket):
                response = self._client.api.networks[network].leases.get()
        except NotFound:
            return {}
        return {str(lease["hwaddr"]).lower(): str(lease["address"])
                for lease in response.json()["metadata"] or []
                if lease.get("hwaddr") and ":" not in str(lease.get("address", ":"))}

    def _record(self, container: Container) -> dict[str, Any]:
        with _incus_errors(self.socket):
            api = self._client.api.instances[container.name]
            try:
                response = api.get(params={"project": container.project})
            except NotFound as error:
                raise BadInput(f"no such container: {container.name}") from error
        record: dict[str, Any] = response.json()["metadata"]
        return record

    def config_value(self, container: Container, key: str) -> str | None:
        """One key of the container's own config (not its profiles'), None when unset."""
        value = (self._record(container).get("config") or {}).get(key)
        return None if value is None else str(value)

    def set_config(self, container: Container, key: str, value: str | None) -> None:
        current = self._record(container)
        with _incus_errors(self.socket):
            api = self._client.api.instances[container.name]
            params = {"project": container.project}
            if value is not None:
                api.patch(json={"config": {key: value}}, params=params)
            elif key in (current.get("config") or {}):
                # PATCH merges, so only a PUT of the whole writable record drops a key
                writable = ("architecture", "config", "devices", "ephemeral", "profiles",
                            "stateful", "description")
                record = {k: current[k] for k in writable if k in current}
                record["config"] = {k: v for k, v in current["config"].items() if k != key}
                api.put(json=record, params=params)

    def set_frozen(self, container: Container, frozen: bool) -> None:
        """`incus pause` / `incus start` of a frozen container, waited for."""
        action = "freeze" if frozen else "unfreeze"
        with _incus_errors(self.socket):
            api = self._client.api.instances[container.name].state
            try:
                response = api.put(json={"action": action, "timeout": 30},
                                   params={"project": container.project})
            except NotFound as error:
                raise BadInput(f"no such container: {container.name}") from error
            operation = Operation.wait_for_operation(self._client, response.json()["operation"])
            if getattr(operation, "status", "Success") != "Success":
                raise BadInput(f"{action} {container.name}: {operation.err or operation.status}")

    def close(self) -> None:
        session = getattr(self._client.api, "session", None)
        if session is not None:
            session.close()


class _EventSocket(_WebsocketClient):  # type: ignore[misc]
    def __init__(self, url: str, sink: EventSink, **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        self._sink = sink

    def received_message(self, message: Any) -> None:
        event = json.loads(message.data.decode())
        metadata = event.get("metadata") or {}
        self._sink(str(metadata.get("action", event.get("type", ""))), metadata)


class IncusEvents:
    """Lifecycle events in a thread. Emits ("resync", {}) after every (re)connect, since events
    are lost while disconnected, and ("incus-down", {"reason": ...}) when the connection drops."""

    def __init__(
        self,
        sink: EventSink,
        project: str | None = "default",
        all_projects: bool = False,
        env: Mapping[str, str] = os.environ,
        backoff: Callable[[int], float] = lambda attempt: min(0.25 * 2**attempt, 3.0),
    ) -> None:
        self._sink = sink
        self._project = project
        self._all_projects = all_projects
        self._env = env
        self._backoff = backoff
        self._stop = threading.Event()
        self._socket: _EventSocket | None = None
        self._thread = threading.Thread(target=self._run, name="incus-events", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 3.0) -> None:
        self._stop.set()
        ws = self._socket
        if ws is not None:
            with contextlib.suppress(Exception):
                ws.close()
        self._thread.join(timeout)

    def _connect(self) -> _EventSocket:
        backend = IncusBackend(self._project, self._all_projects, self._env)
        sink = self._sink
        with _incus_errors(backend.socket):
            ws: _EventSocket = backend._client.events(
                websocket_client=lambda url, ssl_options=None: _EventSocket(
                    url, sink, ssl_options=ssl_options
                ),
                event_types={EventType.Lifecycle},
            )
        # pylxd never adds the project to the events URL
        scope = "all-projects=true" if self._all_projects else f"project={self._project}"
        ws.resource += f"&{scope}"
        ws.connect()
        return ws

    def _run(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            try:
                self._socket = self._connect()
            except Exception as error:
                self._sink("incus-down", {"reason": str(error)})
                self._stop.wait(self._backoff(attempt))
                attempt += 1
                continue
            attempt = 0
            self._sink("resync", {})
            with contextlib.suppress(Exception):
                self._socket.run()  # blocks until the socket closes
            self._socket = None
            if not self._stop.is_set():
                self._sink("incus-down", {"reason": "Incus event stream closed"})
