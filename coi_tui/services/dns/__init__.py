"""The DNS allowlist, live: records with expiry, COI's refresh schedule, COI's IP cache, and the
refresher that re-applies changed allowlists through the firewall worker. No Textual here."""
