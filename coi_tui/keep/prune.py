"""Pruning old answers: beyond COI, on request only, always reviewed.

COI's nft era never removes a resolved set element (docs/coi-nft-era.md §4.3): every address
a name ever resolved to stays allowed for the container's life, so a long session's allowlist
grows with every rotation. Pruning bounds it: the pins DNS no longer gives (every name must answer
now, else what it no longer gives is unknown) go out of the sets in ONE nft transaction, and
the container's `# BEGIN coi allowlist` block is rewritten with the current answers. A flow
already open to a pruned address goes on (COI's `ct state established` accept); new ones
are rejected. Where the era keeps no old answers (firewalld: a refresh replaces them) there
is nothing to prune.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from coi_tui.changes import Change, ChangePlanner
from coi_tui.eras.seam import owned
from coi_tui.errors import BadInput
from coi_tui.keep.refresher import answers_of
from coi_tui.models import CoiRule, Container, Mode, NetworkSettings
from coi_tui.services.dns.records import DomainStatus
from coi_tui.services.inventory import mode_of
from coi_tui.services.resolve import Resolution, resolve_allowlist

ResolveFn = Callable[[Sequence[str], bool], Resolution]  # (entries, allow_local) -> answers

HELP = ("beyond COI, which keeps every resolved address for the container's life: take the "
        "addresses DNS no longer gives out of the allowlist (one reviewed transaction) and "
        "rewrite the container's /etc/hosts block")


def _resolve(entries: Sequence[str], allow_local: bool) -> Resolution:
    return resolve_allowlist(entries, allow_local=allow_local)


def prune_change(planner: ChangePlanner, settings: NetworkSettings, names: Sequence[str],
                 live: Iterable[CoiRule], resolve: ResolveFn = _resolve) -> Change:
    """The old answers of the named allowlist containers (all of them when `names` is
    empty) out of force, as one change to review; planned again under the writer lock."""
    era = planner.era
    if not era.keeps_old_answers:
        raise BadInput(f"the {era.name} era keeps no old answers: each refresh replaces the "
                       "pinned addresses, so there is nothing to prune")
    if not settings.allowed_domains:
        raise BadInput("network.allowed_domains is empty: nothing is pinned from DNS")
    live = tuple(live)
    targets = _allowlist_targets(planner, names, live)
    resolution = resolve(settings.allowed_domains, settings.allow_local_network_access)
    unsure = [d for d, r in resolution.records.items()
              if r.status in (DomainStatus.FAILED, DomainStatus.STALE)]
    if unsure:
        raise BadInput(f"{', '.join(unsure)} did not answer now: what it no longer gives is "
                       "unknown, so nothing is pruned (try again when DNS answers)")
    answers = answers_of(resolution)
    current = frozenset(resolution.ips)
    plans = [era.prune(c, live, era.resolved_pins(c, live) - current, settings, answers)
             for c in targets]
    title = f"prune old DNS answers of {', '.join(c.name for c in targets)}"
    plan = era.merge([p for p in plans if not p.empty], title)
    return Change(plan, (), None, resolution)


def _allowlist_targets(planner: ChangePlanner, names: Sequence[str],
                       live: Sequence[CoiRule]) -> list[Container]:
    era = planner.era
    if names:
        targets = planner.find(names)
    else:
        targets = [c for c in planner.containers.list_containers() if c.ipv4]
    chosen = []
    for container in targets:
        mode, _source = mode_of(container, owned(container, live), era)
        if mode is Mode.ALLOWLIST:
            chosen.append(container)
        elif names:
            raise BadInput(f"{container.name} is not in allowlist mode "
                           f"({mode.value if mode else 'no mode'}): nothing is pinned from DNS")
    if not chosen:
        raise BadInput("no allowlist container to prune")
    return chosen
