"""Turning a container's IPv6 off: the fix for the IPv6 bypass, as one reviewed plan.

COI's firewalld-era rules are IPv4 only (`ipv4 filter FORWARD`): a container with a routed
(global or ULA) IPv6 address reaches through IPv6 whatever its mode blocks. The fix is in the
container, not in the firewall: its kernel's IPv6 off now (`sysctl -w`, every interface and any
new one) and at every start (Incus's `linux.sysctl.*` keys, applied before the container
runs). Verified by reading both back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from coi_tui.backends.base import FirewallBackend
from coi_tui.backends.container_exec import ContainerShell, IncusExec
from coi_tui.backends.incus import IncusBackend
from coi_tui.changes import Change, ChangePlanner
from coi_tui.errors import BackendUnavailable, BadInput, CoiTuiError
from coi_tui.models import Container, Ipv6
from coi_tui.plans import Plan, PlanLine, Present

# every interface now, and any made later; as `linux.sysctl.<name>` Incus sets them at each start
SYSCTLS = ("net.ipv6.conf.all.disable_ipv6", "net.ipv6.conf.default.disable_ipv6")


class InstanceConfig(Protocol):
    """A container's own Incus config keys (IncusBackend, or a fake in tests)."""

    def config_value(self, container: Container, key: str) -> str | None: ...
    def set_config(self, container: Container, key: str, value: str | None) -> None: ...
    def close(self) -> None: ...


ConfigFactory = Callable[[str], InstanceConfig]  # project -> its config
ShellFactory = Callable[[], ContainerShell]


def _incus_config(project: str) -> InstanceConfig:
    return IncusBackend(project)


def _kept_off(config: ConfigFactory, container: Container) -> bool:
    store = config(container.project)
    try:
        return all(store.config_value(container, f"linux.sysctl.{s}") == "1" for s in SYSCTLS)
    finally:
        store.close()


def _run(shell: ShellFactory, container: Container, argv: Sequence[str]) -> str:
    runner = shell()
    try:
        done = runner.run(container, argv)
    finally:
        runner.close()
    if done.returncode != 0:
        raise BackendUnavailable(f"{container.name}: {' '.join(argv)}: "
                                 f"{done.stderr.strip() or f'exit {done.returncode}'}")
    return done.stdout


@dataclass(frozen=True)
class Ipv6OffStep:
    """A plan step: one IPv6 sysctl of a container set to 1, now (`kept=False`: in the running
    container) or at each start (`kept=True`: its Incus key). Verified by reading it back."""

    target: Container
    sysctl: str
    kept: bool = False
    why: str = "routed IPv6 passes every IPv4 rule of its mode"
    shell: ShellFactory = field(default=IncusExec, compare=False, repr=False)
    config: ConfigFactory = field(default=_incus_config, compare=False, repr=False)

    @property
    def container(self) -> str | None:
        return self.target.name

    def lines(self) -> tuple[PlanLine, ...]:
        name = self.target.name
        text = (f"incus config set {name} linux.sysctl.{self.sysctl}=1" if self.kept else
                f"incus exec {name} -- sysctl -w {self.sysctl}=1")
        return (PlanLine("set", text, name),)

    def label(self) -> str:
        return str(self.lines()[0])

    def skip_reason(self) -> str:
        return ""

    def run(self, firewall: FirewallBackend) -> str:
        if not self.kept:
            _run(self.shell, self.target, ["sysctl", "-w", f"{self.sysctl}=1"])
            return "set in the running container"
        store = self.config(self.target.project)
        try:
            store.set_config(self.target, f"linux.sysctl.{self.sysctl}", "1")
        finally:
            store.close()
        return "set: Incus applies it at each start"

    def verify(self, present: Present) -> tuple[str, ...]:
        try:
            value = self._read()
        except CoiTuiError as error:
            return (f"{self.target.name}: could not read {self.sysctl} back: {error}",)
        if value == "1":
            return ()
        where = "its Incus config (IPv6 comes back at restart)" if self.kept else \
            "the running container (IPv6 is still on)"
        return (f"{self.target.name}: {self.sysctl} is {value or 'unset'} in {where}",)

    def _read(self) -> str | None:
        if self.kept:
            store = self.config(self.target.project)
            try:
                return store.config_value(self.target, f"linux.sysctl.{self.sysctl}")
            finally:
                store.close()
        path = "/proc/sys/" + self.sysctl.replace(".", "/")
        return _run(self.shell, self.target, ["cat", path]).strip()


def ipv6_off_change(planner: ChangePlanner, names: Sequence[str], *,
                    shell: ShellFactory = IncusExec,
                    config: ConfigFactory = _incus_config) -> Change:
    """One step per named running container whose IPv6 is not already off for good; the
    plan is empty when every one is."""
    known = {c.name: c for c in planner.containers.list_containers()}
    steps: list[Ipv6OffStep] = []
    for name in dict.fromkeys(names):
        container = known.get(name)
        if container is None:
            raise BadInput(f"no such container: {name}")
        if container.status != "Running":
            raise BadInput(f"{name} is {container.status}: start it first (IPv6 is turned "
                           "off inside the running container)")
        if container.ipv6 is Ipv6.OFF and _kept_off(config, container):
            continue
        # now first: the bypass closes at once, whatever happens to the keys
        steps += [Ipv6OffStep(container, sysctl, kept, shell=shell, config=config)
                  for kept in (False, True) for sysctl in SYSCTLS]
    title = f"IPv6 off in {', '.join(dict.fromkeys(names))}"
    return Change(Plan(tuple(steps), title), (), None)
