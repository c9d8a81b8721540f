"""The commented file coi-tui creates when the user has no config yet.

It sets nothing itself: a value written here would override /etc/coi/config.toml for keys the
user never touched. The keys the user changes are added under [network].
"""

TEMPLATE = """\
# code-on-incus configuration (created by coi-tui).
#
# Every key is optional: a key left out keeps the value of a lower layer
# (/etc/coi/config.toml, ~/.config/coi/config.toml) or COI's built-in default.
#
# [network]
#   mode                        "restricted": internet yes, LAN (RFC1918) and cloud metadata no
#                               "allowlist": only allowed_domains; "open": no restrictions
#   block_private_networks      true/false, restricted mode only
#   block_metadata_endpoint     true/false, restricted mode only
#   allow_local_network_access  true lets containers reach the LAN in every mode
#   allowed_domains             hostnames or IPv4 addresses (no wildcards, URLs, ports or
#                               IPv6); a non-empty list here replaces the lower layers' list
#   refresh_interval_minutes    re-resolve allowed_domains at most this often; 0 keeps the
#                               lower layer's value, a negative value turns refreshing off

[network]
"""
