"""What the user must not miss, across the top: isolation not in force (EXPOSED), rules that
cannot be read (UNKNOWN), a daemon that is down. Hidden when all is well. One row per item,
elided, at most MAX_ROWS: the last row sums up the rest (`lines` has them all)."""

from __future__ import annotations

from textual.widgets import Static

from coi_tui.models import Inventory, Isolation


def backstop_reason(inventory: Inventory) -> str:
    return ("firewalld down, held by the backstop" if inventory.firewall_down
            else "rules missing in firewalld, held by the backstop")


def banner_lines(inventory: Inventory, notes: list[str] | None = None) -> list[str]:
    lines = []
    exposed = inventory.exposed
    if exposed:
        names = ", ".join(f"{s.container.name} ({s.mode})" for s in exposed)
        why = ("firewalld is not running: its rules are flushed" if inventory.firewall_down
               else exposed[0].reason)
        lines.append(f"EXPOSED: isolation NOT in force for {names}: {why}")
    unknown = [s for s in inventory.containers if s.isolation is Isolation.UNKNOWN]
    if unknown:
        lines.append(f"UNKNOWN: isolation of {len(unknown)} container(s) cannot be checked: "
                     f"{unknown[0].reason}")
    backstop = [s.container.name for s in inventory.containers
                if s.isolation is Isolation.BACKSTOP]
    if backstop:
        lines.append(f"BACKSTOP: {backstop_reason(inventory)}: {', '.join(backstop)}")
    held = [s.container.name for s in inventory.containers if s.isolation is Isolation.HELD]
    if held:
        lines.append(f"FROZEN by the guard until their rules are back: {', '.join(held)}")
    lines += [f"{s.name} unavailable: {s.detail}" for s in inventory.backends
              if not s.ok and not (s.firewall and (exposed or unknown))]
    return lines + (notes or [])


MAX_ROWS = 3


def banner_rows(lines: list[str]) -> list[str]:
    """At most MAX_ROWS: the first ones as they are (the worst come first), then "+N more"
    with the head of each of the rest."""
    if len(lines) <= MAX_ROWS:
        return lines
    rest = lines[MAX_ROWS - 1:]
    heads = " · ".join(line.split(":", 1)[0] for line in rest)
    return [*lines[:MAX_ROWS - 1], f"+{len(rest)} more: {heads}"]


class BackendBanner(Static):
    DEFAULT_CSS = f"""
    BackendBanner {{ text-wrap: nowrap; text-overflow: ellipsis; max-height: {MAX_ROWS}; }}
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(markup=False, **kwargs)  # type: ignore[arg-type]
        self.lines: list[str] = []  # every item in full (for the help)

    def show_inventory(self, inventory: Inventory, notes: list[str] | None = None) -> None:
        self.lines = banner_lines(inventory, notes)
        self.display = bool(self.lines)
        self.set_class(bool(inventory.exposed), "-exposed")
        if self.lines:
            self.update("\n".join(banner_rows(self.lines)))
