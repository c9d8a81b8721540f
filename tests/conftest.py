"""Test-wide settings: name resolution only ever asks the lab's DNS server."""

from __future__ import annotations

import os

# Allowlist tests resolve names: never let them ask a resolver outside the lab.
os.environ.setdefault("COI_TUI_NAMESERVERS", "127.0.0.1:5353")
