"""The commented file coi-tui creates when the user has no config yet."""

TEMPLATE = """\
# code-on-incus configuration (created by coi-tui). Every key is optional:
# a key left out keeps the value of a lower layer (/etc/coi, ~/.config/coi) or COI's default.

[network]
# restricted: internet yes, LAN (RFC1918) and cloud metadata no
# allowlist:  only allowed_domains (resolved to IPs), nothing else
# open:       no restrictions
mode = "restricted"

# restricted mode only
block_private_networks = true
block_metadata_endpoint = true

# true lets the container reach your LAN in every mode
allow_local_network_access = false

# allowlist mode: hostnames or IPv4 addresses (no wildcards, URLs, ports or IPv6)
allowed_domains = [
    "registry.npmjs.org",
    "api.anthropic.com",
]

# upper bound for re-resolving allowed_domains (TTL-driven); a negative value disables it
refresh_interval_minutes = 30
"""
