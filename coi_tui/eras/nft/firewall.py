"""COI's nft era behind the firewall interface the engine, the inventory and the planners use.

Reading is one `nft -j list table` per COI table (plus the monitor chain); changing is only
ever a whole `nft -f -` transaction (`run_script`), never a single rule: the rule-by-rule
methods of the firewalld era refuse.
"""

from __future__ import annotations

from coi_tui.eras.firewalld.rules import DirectRule
from coi_tui.eras.nft.cli import NftCli
from coi_tui.eras.nft.objects import objects_of
from coi_tui.errors import FirewallError
from coi_tui.models import CoiRule


class NftFirewall:
    name = "nft"

    def __init__(self, cli: NftCli | None = None) -> None:
        self.cli = cli or NftCli()
        self.name = self.cli.name

    def state(self) -> str:
        self.cli.list_tables()  # nft needs no daemon: readable means running
        return "running"

    def list_rules(self) -> list[CoiRule]:
        return list(objects_of(self.cli.state()))

    def run_script(self, script: str, *, check: bool = False, action: str = "apply a change"
                   ) -> None:
        self.cli.run_script(script, check=check, action=action)

    def _refuse(self, rule: DirectRule) -> bool:
        raise FirewallError(f"the nft era changes rules only in transactions, not [{rule}]")

    add_rule = remove_rule = query_rule = _refuse

    def zone_of_interface(self, interface: str) -> str | None:
        return None  # no firewalld zones in the nft era

    def remove_interface(self, zone: str, interface: str) -> bool:
        return False

    def zone_bindings(self) -> dict[str, tuple[str, ...]]:
        return {}

    def masquerade_enabled(self) -> bool:
        return True  # Incus's own bridge NAT, not ours to judge here

    def close(self) -> None:
        pass
