"""Which COI era holds this host's rules (pure: the probes are done by wiring.py).

COI 0.9+ (PR #405, 2026-05-29) isolates with its own nft table `ip coi`; before, with firewalld
direct rules. The era is the one that holds COI's rules; with none yet, the one COI would use;
with both, it is flagged and the nft era (what COI runs today) is shown.
"""

from __future__ import annotations

from dataclasses import dataclass

from coi_tui.errors import BadInput

ERAS = ("firewalld", "nft")


@dataclass(frozen=True)
class Probe:
    """What was seen; None where it could not be read."""

    firewalld_running: bool
    firewalld_installed: bool
    firewalld_coi_rules: int | None  # direct rules naming one host (COI's shape)
    coi_table: bool | None  # table `ip coi` exists
    nft_coi_rules: int | None  # rules commented `coi-...` and allowlist sets in `ip coi`


@dataclass(frozen=True)
class EraChoice:
    era: str
    reason: str
    both: bool = False  # both eras hold COI rules: shown and flagged


def choose_era(probe: Probe, override: str | None = None) -> EraChoice:
    if override:
        if override not in ERAS:
            raise BadInput(f"unknown era {override!r} (expected firewalld or nft)")
        return EraChoice(override, f"{override} era chosen explicitly (--era / COI_TUI_ERA)")
    fw, nft = probe.firewalld_coi_rules or 0, probe.nft_coi_rules or 0
    if fw and nft:
        return EraChoice("nft", f"BOTH hold COI rules: {nft} in nft table ip coi and {fw} "
                         "firewalld direct rules; showing the nft era (COI 0.9+), see the "
                         "other with --era firewalld", both=True)
    if nft:
        return EraChoice("nft", f"nft table ip coi holds {nft} COI rule(s)/set(s) (COI 0.9+)")
    if fw:
        return EraChoice("firewalld", f"firewalld holds {fw} COI direct rule(s) (COI < 0.9)")
    if probe.coi_table:
        return EraChoice("nft", "nft table ip coi exists (COI 0.9+ created it), no rules yet")
    if probe.firewalld_running:
        return EraChoice("firewalld", "firewalld runs and there is no nft table ip coi")
    if probe.firewalld_installed:
        return EraChoice("firewalld", "firewalld is installed (not running now) and there is "
                         "no nft table ip coi")
    return EraChoice("nft", "no firewalld and no COI rules: COI 0.9+ uses nft")
