"""The canonical form nft rules and set elements are compared in. Pure.

Decision: we never parse `nft list` text and never try to reproduce nft's printer byte for
byte. Instead both sides are reduced to one token tuple, shaped like what `nft list` prints:

* COI's emitted text (`ip saddr X ip daddr G/32 udp dport { 67, 68 } accept comment "coi-X"`)
  goes through `canonical_rule`: tokens, comment dropped, `/32` dropped from addresses,
  anonymous sets sorted and a one-element set unwrapped (`{ 443 }` -> `443`), default
  arguments dropped (`reject with icmp port-unreachable`, `burst 5 packets`).
* The kernel's JSON (`nft -j`) goes through backends/nft/json_model.render_expr, which emits
  the same shapes.

Both reductions are pinned by tests that push every rule COI emits through the real nft
and read it back as JSON (tests/unit/test_nft_roundtrip.py).
"""

from __future__ import annotations

import ipaddress
import itertools
import re
from collections.abc import Iterable, Sequence

OPEN, CLOSE = "{", "}"
_TOKEN = re.compile(r'"([^"]*)"|([{}])|([^\s{}"]+)')
_ADDRESS_KEYWORDS = frozenset({"saddr", "daddr"})


def tokenize(text: str) -> list[str]:
    """Split nft input: quoted strings are one token (quotes removed), braces are tokens,
    commas separate set elements (a trailing or lone comma disappears)."""
    tokens: list[str] = []
    depth = 0
    for quoted, brace, word in _TOKEN.findall(text):
        if brace:
            depth += 1 if brace == OPEN else -1
            tokens.append(brace)
        elif word:
            # inside braces a comma always separates; outside it joins a flag list
            # (`ct state established,related`) and only a trailing one is dropped
            parts = word.split(",") if depth > 0 else [word.rstrip(",")]
            tokens.extend(p for p in parts if p)
        else:
            tokens.append(quoted)
    return tokens


def _strip_host(value: str) -> str:
    return value[:-3] if value.endswith("/32") else value


def _address_key(value: str) -> tuple[int, int] | None:
    try:
        network = ipaddress.IPv4Network(value, strict=False)
    except ValueError:
        return None
    return int(network.network_address), network.prefixlen


def element_sort_key(value: str) -> tuple[int, int, int, str]:
    """How nft orders anonymous set elements: numerically (ports, addresses, ranges by
    their low end), names by text."""
    low = value.split(" . ")[0]
    if "-" in low and not low.startswith("-"):
        low = low.split("-", 1)[0]
    if low.isdigit():
        return (0, int(low), 0, value)
    address = _address_key(low)
    if address is not None:
        return (1, address[0], address[1], value)
    return (2, 0, 0, value)


def group(elements: Sequence[str]) -> list[str]:
    """An anonymous set in canonical form: sorted, deduplicated, unwrapped when single."""
    unique = sorted(dict.fromkeys(_strip_host(e) for e in elements), key=element_sort_key)
    return unique if len(unique) == 1 else [OPEN, *unique, CLOSE]


def flag_list(values: Iterable[str]) -> str:
    """A bare comma list such as `established,related`, in a stable order."""
    return ",".join(sorted(values))


def _drop_defaults(tokens: list[str]) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(tokens):
        t = tokens[i]
        if t == "reject" and tokens[i + 1 : i + 4] in (
            ["with", "icmp", "port-unreachable"],
            ["with", "icmpx", "port-unreachable"],
        ):
            out.append("reject")
            i += 4
            continue
        if t == "reject" and tokens[i + 1 : i + 5] == ["with", "icmp", "type", "port-unreachable"]:
            out.append("reject")
            i += 5
            continue
        if t == "burst" and tokens[i + 1 : i + 3] == ["5", "packets"]:
            i += 3
            continue
        if t == "counter":
            # counter values change with traffic; only the statement's presence counts
            out.append(t)
            i += 1
            while tokens[i : i + 1] in (["packets"], ["bytes"]):
                i += 2
            continue
        out.append(t)
        i += 1
    return out


def canonical_tokens(tokens: Sequence[str]) -> tuple[str, ...]:
    """Canonical form of a rule's statement tokens (no `add rule ...` head)."""
    out: list[str] = []
    i = 0
    while i < len(tokens):
        t = tokens[i]
        if t == "comment" and i + 1 < len(tokens):
            i += 2
            continue
        if t == OPEN:
            end = tokens.index(CLOSE, i)
            out.extend(group(tokens[i + 1 : end]))
            i = end + 1
            continue
        if out and out[-1] in _ADDRESS_KEYWORDS:
            t = _strip_host(t)
        elif "," in t:
            t = flag_list(t.split(","))
        out.append(t)
        i += 1
    return tuple(_drop_defaults(out))


_HEAD = re.compile(r"^\s*(?:add|insert)\s+rule\s+\S+\s+\S+\s+\S+\s+")


def canonical_rule(text: str) -> tuple[str, ...]:
    """Canonical tokens of a rule body, or of a whole `add|insert rule f t c ...` line."""
    return canonical_tokens(tokenize(_HEAD.sub("", text, count=1)))


def comment_of(text: str) -> str | None:
    tokens = tokenize(text)
    for i, t in enumerate(tokens[:-1]):
        if t == "comment":
            return tokens[i + 1]
    return None


def _shown(token: str) -> str:
    return f'"{token}"' if not token or re.search(r'[\s"{};#]', token) else token


def join_tokens(tokens: Sequence[str]) -> str:
    """Canonical tokens back to one readable line (`{ a, b }` for sets)."""
    parts: list[str] = []
    in_set = False
    for t in tokens:
        if t == OPEN:
            parts.append("{")
            in_set, first = True, True
            continue
        if t == CLOSE:
            parts.append("}")
            in_set = False
            continue
        if in_set and not first:
            parts[-1] += ","
        first = False
        parts.append(_shown(t))
    return " ".join(parts)


def canonical_element(text: str) -> str:
    """A set element as COI writes it (`1.2.3.4/32 . 443`, `5.6.7.8 timeout 600s`) in the
    form json_model renders the kernel's elements: no /32, no timeout, CIDRs normalised."""
    text = re.sub(r"\s+(timeout|expires)\s+\S+", "", text.strip())
    parts = [p.strip() for p in text.split(" . ")]
    out = []
    for part in parts:
        if "/" in part:
            network = ipaddress.IPv4Network(part, strict=False)
            part = str(network.network_address) if network.prefixlen == 32 else str(network)
        out.append(part)
    return " . ".join(out)


Box = tuple[tuple[int, int], ...]


def _span(part: str) -> tuple[int, int]:
    if part.isdigit():
        return int(part), int(part)
    if "-" in part:
        low, high = part.split("-", 1)
        return _span(low)[0], _span(high)[1]
    network = ipaddress.IPv4Network(part, strict=False)
    return int(network.network_address), int(network.broadcast_address)


def element_box(text: str) -> Box:
    """An element as one closed interval per concatenated field (addresses as integers)."""
    return tuple(_span(p) for p in canonical_element(text).split(" . "))


def box_contains(outer: Box, inner: Box) -> bool:
    return len(outer) == len(inner) and all(
        o[0] <= i[0] and i[1] <= o[1] for o, i in zip(outer, inner, strict=True)
    )


def box_intersects(a: Box, b: Box) -> bool:
    return len(a) == len(b) and all(
        x[0] <= y[1] and y[0] <= x[1] for x, y in zip(a, b, strict=True)
    )


def box_covered(box: Box, boxes: Sequence[Box]) -> bool:
    """Every point of `box` lies in some box of `boxes` (their union covers it): how an
    auto-merged interval (1.2.3.0/24 from 1.2.3.0/25 + 1.2.3.128/25) is still exactly what
    was asked for. Cut along every boundary in the first field, recurse on the rest."""
    relevant = [b for b in boxes if box_intersects(b, box)]
    if not relevant:
        return False
    if not box:
        return True
    low, high = box[0]
    cuts = sorted({low, high + 1}
                  | {b[0][0] for b in relevant if low < b[0][0] <= high}
                  | {b[0][1] + 1 for b in relevant if low <= b[0][1] < high})
    for start, end in itertools.pairwise(cuts):
        spanning = [b[1:] for b in relevant if b[0][0] <= start and end - 1 <= b[0][1]]
        if not spanning or (len(box) > 1 and not box_covered(box[1:], spanning)):
            return False
    return True


def _address_text(low: int, high: int) -> str:
    """An address interval as nft lists it: `1.2.3.4`, `10.0.0.0/8`, `1.2.3.4-1.2.3.9`."""
    first, last = ipaddress.IPv4Address(low), ipaddress.IPv4Address(high)
    nets = list(ipaddress.summarize_address_range(first, last))
    if len(nets) == 1:
        return str(first) if low == high else str(nets[0])
    return f"{first}-{last}"


def as_kernel_holds(elements: Sequence[str], merged: bool) -> tuple[str, ...]:
    """The elements a set holds once the kernel took `elements`, canonical and sorted:
    with `merged` (an auto-merge address set) overlapping and adjacent intervals become one;
    else (`addr . port` sets, which the kernel never merges) an element inside another is
    dropped (the union is the same)."""
    canon = sorted(dict.fromkeys(canonical_element(e) for e in elements), key=element_sort_key)
    boxes = {e: element_box(e) for e in canon}
    if not merged or any(len(b) != 1 for b in boxes.values()):
        return tuple(e for e in canon if not any(
            f != e and box_contains(boxes[f], boxes[e]) for f in canon))
    spans: list[list[int]] = []
    for low, high in sorted(b[0] for b in boxes.values()):
        if spans and low <= spans[-1][1] + 1:
            spans[-1][1] = max(spans[-1][1], high)
        else:
            spans.append([low, high])
    return tuple(sorted((_address_text(low, high) for low, high in spans), key=element_sort_key))
