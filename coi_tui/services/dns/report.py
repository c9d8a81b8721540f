"""The DNS state as the CLI prints it (`coi-tui dns --json`, the `--follow` log line). Pure."""

from __future__ import annotations

from datetime import UTC, datetime

from coi_tui.services.dns.cache import format_rfc3339
from coi_tui.services.dns.schedule import go_duration, seconds_until
from coi_tui.services.dns.state import ContainerPins, DnsState, RefreshResult


def timestamp(epoch: float) -> str:
    return format_rfc3339(datetime.fromtimestamp(epoch, UTC))


def _last(result: RefreshResult | None) -> dict[str, object] | None:
    if result is None:
        return None
    return {
        "at": timestamp(result.at),
        "ok": result.ok,
        "result": result.summary,
        "changed": list(result.changed),
        "failed_jobs": list(result.failed_jobs),
        "errors": list(result.errors),
    }


def state_record(state: DnsState, now: float) -> dict[str, object]:
    """docs/design.md §5: per domain `domain ips ttl expires_in status blocked_ips`; `interval`,
    `next_refresh_in` (seconds), `last_refresh`; the pinned IPs per container, its old answers
    (`since`: last answered, or first seen when `answered` is false) and whether its
    /etc/hosts block is in step."""
    return {
        "domains": [
            {
                "domain": r.domain,
                "ips": list(r.ips),
                "ttl": r.ttl,
                "expires_in": r.expires_in(now),
                "status": r.status.value,
                "blocked_ips": list(r.blocked_ips),
                "blocked_reasons": dict(r.blocked),
                "error": r.error or None,
            }
            for r in state.records
        ],
        "interval": state.interval,
        "next_refresh_in": seconds_until(state.next_refresh_at, now),
        "last_refresh": _last(state.last_refresh),
        "refresh_enabled": state.enabled,
        "note": state.note,
        "containers": [
            {
                "name": p.name,
                "ipv4": p.ipv4,
                "pinned_ips": list(p.cached_ips),
                "rule_ips": None if p.rule_ips is None else list(p.rule_ips),
                "cache_file": p.cache_file,
                "cache_last_update": None if p.last_update is None
                else format_rfc3339(p.last_update),
                "cache_error": p.cache_error or None,
                # nft era: pins DNS no longer gives (None: unknown now, or not kept)
                "old_answers": None if p.old_answers is None else [
                    {"ip": a.ip, "since": format_rfc3339(a.since), "answered": a.answered,
                     "age_seconds": a.age(now)} for a in p.old_answers],
                "hosts_file": p.hosts_file or None,
            }
            for p in state.containers
        ],
    }


def refresh_line(state: DnsState) -> str:
    """One log line per refresh (`coi-tui dns --follow`, `coi-tui watch`)."""
    last = state.last_refresh
    if last is None:
        return "DNS: not refreshed yet"
    when = timestamp(last.at)
    interval = ("refresh disabled" if state.interval is None
                else f"next in {go_duration(state.interval)}")
    text = f"{when} DNS refresh {'ok' if last.ok else 'WARN'}: {last.summary}; {interval}"
    problems = [*last.errors, *(f"{r.domain} stale ({r.error})" for r in state.records
                                if r.status.value == "stale")]
    return text + (f" [{'; '.join(problems)}]" if problems else "")


def age_text(seconds: int) -> str:
    """An age, short: 45s, 12m, 3h05m, 2d."""
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d"


def old_answers_text(pins: ContainerPins, now: float) -> str:
    """`203.0.113.10 (unanswered 12m)`: last answered 12 minutes ago; `(unanswered since
    seen 3h05m ago)`: never answered since coi-tui first saw it pinned."""
    if pins.old_answers is None:
        return "-"
    return ", ".join(
        f"{a.ip} (unanswered {'' if a.answered else 'since seen '}{age_text(a.age(now))}"
        f"{'' if a.answered else ' ago'})" for a in pins.old_answers) or "none"
