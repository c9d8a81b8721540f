"""What the user must not miss, across the top: isolation not in force (EXPOSED), rules that
cannot be read (UNKNOWN), a daemon that is down. Hidden when all is well."""

from __future__ import annotations

from textual.widgets import Static

from coi_tui.models import Inventory, Isolation


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
    held = [s.container.name for s in inventory.containers if s.isolation is Isolation.HELD]
    if held:
        lines.append(f"FROZEN by the guard until their rules are back: {', '.join(held)}")
    lines += [f"{s.name} unavailable: {s.detail}" for s in inventory.backends
              if not s.ok and not (s.firewall and (exposed or unknown))]
    return lines + (notes or [])


class BackendBanner(Static):
    def show_inventory(self, inventory: Inventory, notes: list[str] | None = None) -> None:
        lines = banner_lines(inventory, notes)
        self.display = bool(lines)
        self.set_class(bool(inventory.exposed), "-exposed")
        if lines:
            self.update("\n".join(lines))
