"""What keeps isolation over time, for the TUI and `watch` alike: recovery, the allowlist
refresher."""
