"""COI's firewalld era (COI up to 0.8): direct rules, their policy, the fail-closed planner,
and the two ways into firewalld (D-Bus, firewall-cmd)."""
