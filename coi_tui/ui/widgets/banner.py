"""A one-line warning across the top when a daemon is down; hidden when all is well."""

from __future__ import annotations

from textual.widgets import Static

from coi_tui.models import BackendStatus


class BackendBanner(Static):
    def show_status(self, statuses: tuple[BackendStatus, ...]) -> None:
        down = [s for s in statuses if not s.ok]
        self.display = bool(down)
        if down:
            self.update(" | ".join(f"{s.name} unavailable: {s.detail}" for s in down))
