"""The adversary: schedulers (control of delivery) and Byzantine strategies (corrupted nodes)."""
