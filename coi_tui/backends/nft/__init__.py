"""COI's nftables era: `nft -j` reader and `nft -f -` runner."""
