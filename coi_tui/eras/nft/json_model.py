"""`nft -j list table|chain|set|ruleset` output (libnftables JSON schema) into frozen
records. Pure: the runner is backends/nft/cli.py.

Rules are rendered to canonical tokens (coi_tui/nft_text.py) so they compare with the text
COI emits. Expressions outside what COI and its monitor write are rendered as their JSON,
which never equals a canonical COI rule: such a rule shows as foreign, never as COI's.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from coi_tui.eras.nft.model import NftChain, NftRule, NftSet, NftTable
from coi_tui.eras.nft.text import flag_list, group
from coi_tui.errors import FirewallError

# meta keys nft prints without the `meta` keyword
_BARE_META = frozenset({"iif", "oif", "iifname", "oifname", "iiftype", "oiftype"})
_VERDICTS = frozenset({"accept", "drop", "continue", "return"})


def _opaque(item: Any) -> list[str]:
    return [json.dumps(item, sort_keys=True, separators=(",", ":"))]


def render_value(value: Any) -> list[str]:
    """The right-hand side of a match, or a set element, as canonical tokens."""
    if isinstance(value, bool):
        return _opaque(value)
    if isinstance(value, str | int):
        return [str(value)]
    if isinstance(value, list):  # a flag list, e.g. ct state
        return [flag_list(str(v) for v in value)]
    if isinstance(value, dict) and len(value) == 1:
        (key, inner), = value.items()
        if key == "set" and isinstance(inner, list):
            return group([render_element(v) for v in inner])
        if key == "set":
            return render_value(inner)
        if key in ("prefix", "range", "concat", "elem"):
            return [render_element(value)]
    return _opaque(value)


def render_element(value: Any) -> str:
    """One set element as canonical text: `1.2.3.4`, `10.0.0.0/8`, `1.2.3.4-1.2.3.9`,
    `203.0.113.0/24 . 1-65535`. Timeouts and expiry are not part of an element's identity."""
    if isinstance(value, bool):
        return _opaque(value)[0]
    if isinstance(value, str | int):
        return str(value)
    if isinstance(value, dict) and len(value) == 1:
        (key, inner), = value.items()
        if key == "prefix" and isinstance(inner, dict):
            length = int(inner.get("len", 32))
            addr = str(inner.get("addr"))
            return addr if length == 32 else f"{addr}/{length}"
        if key == "range" and isinstance(inner, list) and len(inner) == 2:
            return f"{render_element(inner[0])}-{render_element(inner[1])}"
        if key == "concat" and isinstance(inner, list):
            return " . ".join(render_element(v) for v in inner)
        if key == "elem" and isinstance(inner, dict):
            return render_element(inner.get("val"))
    return _opaque(value)[0]


def _render_left(left: Any) -> list[str]:
    if isinstance(left, dict) and len(left) == 1:
        (key, inner), = left.items()
        if key == "payload" and isinstance(inner, dict) and "protocol" in inner:
            return [str(inner["protocol"]), str(inner.get("field"))]
        if key == "meta" and isinstance(inner, dict):
            name = str(inner.get("key"))
            return [name] if name in _BARE_META else ["meta", name]
        if key == "ct" and isinstance(inner, dict):
            return ["ct", str(inner.get("key"))]
        if key == "concat" and isinstance(inner, list):
            out: list[str] = []
            for part in inner:
                if out:
                    out.append(".")
                out.extend(_render_left(part))
            return out
    return _opaque(left)


def _render_statement(item: Any) -> list[str]:
    if not isinstance(item, dict) or len(item) != 1:
        return _opaque(item)
    (key, body), = item.items()
    if key == "match" and isinstance(body, dict):
        op = body.get("op", "==")
        ops = [] if op in ("==", "in") else [str(op)]
        return [*_render_left(body.get("left")), *ops, *render_value(body.get("right"))]
    if key in _VERDICTS:
        return [key]
    if key in ("jump", "goto") and isinstance(body, dict):
        return [key, str(body.get("target"))]
    if key == "reject":
        kind = body.get("type") if isinstance(body, dict) else None
        code = body.get("expr") if isinstance(body, dict) else None
        if kind in (None, "icmp", "icmpx") and code in (None, "port-unreachable"):
            return ["reject"]
        if kind == "tcp reset":
            return ["reject", "with", "tcp", "reset"]
        return ["reject", "with", str(kind), str(code)]
    if key == "limit" and isinstance(body, dict):
        unit = body.get("rate_unit", "packets")
        rate = f"{body.get('rate')}/{body.get('per')}"
        out = ["limit", "rate", rate] if unit == "packets" else [
            "limit", "rate", str(body.get("rate")), f"{unit}/{body.get('per')}"]
        burst = body.get("burst", 5)
        if unit == "packets" and burst not in (0, 5):
            out += ["burst", str(burst), "packets"]
        return out
    if key == "log":
        out = ["log"]
        if isinstance(body, dict):
            if "prefix" in body:
                out += ["prefix", str(body["prefix"])]
            if "level" in body:
                out += ["level", str(body["level"])]
        return out
    if key == "counter":
        return ["counter"]
    return _opaque(item)


def render_expr(expr: Iterable[Any]) -> tuple[str, ...]:
    """A rule's `expr` list as canonical tokens (what `nft list` would print, minus the
    comment, the handle and counter values)."""
    tokens: list[str] = []
    for item in expr:
        tokens.extend(_render_statement(item))
    return tuple(tokens)


def _int(value: Any, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _rule(body: Mapping[str, Any]) -> NftRule:
    expr = body.get("expr") or []
    comment = body.get("comment")
    return NftRule(
        family=str(body.get("family")),
        table=str(body.get("table")),
        chain=str(body.get("chain")),
        handle=_int(body.get("handle")),
        comment=comment if isinstance(comment, str) else None,
        canonical=render_expr(expr),
        expr=tuple(expr),
    )


def _set(body: Mapping[str, Any]) -> NftSet:
    typ = body.get("type")
    types = tuple(str(t) for t in typ) if isinstance(typ, list) else (str(typ),)
    flags = body.get("flags") or []
    elements = body.get("elem") or []
    return NftSet(
        family=str(body.get("family")),
        table=str(body.get("table")),
        name=str(body.get("name")),
        type=types,
        flags=tuple(str(f) for f in (flags if isinstance(flags, list) else [flags])),
        elements=tuple(render_element(e) for e in elements),
        handle=_int(body.get("handle")),
    )


def _chain(body: Mapping[str, Any]) -> NftChain:
    prio = body.get("prio")
    return NftChain(
        family=str(body.get("family")),
        table=str(body.get("table")),
        name=str(body.get("name")),
        handle=_int(body.get("handle")),
        type=body.get("type") if isinstance(body.get("type"), str) else None,
        hook=body.get("hook") if isinstance(body.get("hook"), str) else None,
        priority=prio if isinstance(prio, int) and not isinstance(prio, bool) else None,
        policy=body.get("policy") if isinstance(body.get("policy"), str) else None,
    )


def parse_document(text: str) -> tuple[NftTable, ...]:
    """Every table an `nft -j list ...` answer mentions, with its chains, sets and rules in
    the order nft listed them (chain order for rules). A `list chain` answer carries no
    table object: the table is then known only by name (handle 0)."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise FirewallError(f"nft printed unreadable JSON: {error.msg}") from error
    items = document.get("nftables") if isinstance(document, dict) else None
    if not isinstance(items, list):
        raise FirewallError("nft printed JSON without an \"nftables\" list")
    order: list[tuple[str, str]] = []
    handles: dict[tuple[str, str], int] = {}
    chains: dict[tuple[str, str], list[NftChain]] = {}
    sets: dict[tuple[str, str], list[NftSet]] = {}
    rules: dict[tuple[str, str], list[NftRule]] = {}

    def seen(family: Any, table: Any) -> tuple[str, str]:
        key = (str(family), str(table))
        if key not in handles:
            order.append(key)
            handles[key] = 0
        return key

    for item in items:
        if not isinstance(item, dict) or len(item) != 1:
            continue
        (kind, body), = item.items()
        if not isinstance(body, dict):
            continue
        if kind == "table":
            handles[seen(body.get("family"), body.get("name"))] = _int(body.get("handle"))
        elif kind == "chain":
            chains.setdefault(seen(body.get("family"), body.get("table")), []).append(
                _chain(body))
        elif kind == "set":
            sets.setdefault(seen(body.get("family"), body.get("table")), []).append(_set(body))
        elif kind == "rule":
            rules.setdefault(seen(body.get("family"), body.get("table")), []).append(
                _rule(body))
    return tuple(
        NftTable(
            family=family, name=name, handle=handles[(family, name)],
            chains=tuple(chains.get((family, name), ())),
            sets=tuple(sets.get((family, name), ())),
            rules=tuple(rules.get((family, name), ())),
        )
        for family, name in order
    )


def parse_table(text: str, family: str, name: str) -> NftTable:
    """The one table `family name` of an answer (empty if the answer does not name it)."""
    for table in parse_document(text):
        if (table.family, table.name) == (family, name):
            return table
    return NftTable(family=family, name=name)
