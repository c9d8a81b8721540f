"""firewalld's refusals, mapped to coi-tui errors. Shared by the D-Bus and CLI backends."""

from __future__ import annotations

from coi_tui.errors import BackendUnavailable, CoiTuiError, FirewallError, PermissionDenied

# firewalld reports these for an add that exists / a remove that does not: idempotent no-ops
NO_OP_CODES = ("ALREADY_ENABLED", "NOT_ENABLED")


def is_no_op(reason: str) -> bool:
    return reason.startswith(NO_OP_CODES)


def from_reason(reason: str) -> CoiTuiError:
    """One firewalld reason line ("CODE: detail") -> the matching one-line error."""
    reason = " ".join(reason.split())
    if "NotAuthorized" in reason or "Not Authorized" in reason or "password is required" in reason:
        return PermissionDenied(f"firewalld refused access: {reason}")
    if "not running" in reason.lower() or "ServiceUnknown" in reason:
        return BackendUnavailable(f"firewalld is not available or not running ({reason})")
    return FirewallError(f"firewalld: {reason}")
