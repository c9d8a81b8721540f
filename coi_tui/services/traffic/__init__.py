"""What containers do on the network: attempts, names, rates, flows."""
