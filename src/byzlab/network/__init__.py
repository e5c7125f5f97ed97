"""Ways to move messages between nodes: the deterministic simulator and the TCP transport."""
