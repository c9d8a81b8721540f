"""coi-tui: see and steer the network isolation of code-on-incus containers."""

__version__ = "0.1.0"
