"""What runs changes: the one firewall worker, its audit log, the writer lock per host."""
