"""Errors that reach the user as one line. Every layer raises these, the CLI and UI print them."""

from __future__ import annotations


class CoiTuiError(Exception):
    """Base: str(error) is a complete one-line reason."""

    exit_code = 1


class BackendUnavailable(CoiTuiError):
    """A daemon is missing, down, or its socket is absent."""


class FirewallDown(BackendUnavailable):
    """firewalld is not running: it flushed its rules when it stopped (isolation not in force)."""


class PermissionDenied(CoiTuiError):
    """The daemon is there but refuses us."""


class FirewallError(CoiTuiError):
    """firewalld refused an operation; the message carries firewalld's reason."""


class BadInput(CoiTuiError):
    """Bad usage, an unknown name or mode, an invalid config value."""

    exit_code = 2
