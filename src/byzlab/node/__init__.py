"""Sans-IO protocol state machines: no clock, no sockets, no global randomness."""
