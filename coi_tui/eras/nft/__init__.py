"""COI's nftables era (COI 0.9+): table `ip coi`, its model, COI's text per mode, transactions,
the `nft -j` reader and the `nft -f -` runner."""
