"""The runtime: what drives the protocol core, independent of how messages travel.

`interfaces` names the small contracts the simulator and the real transport depend on (a
process, a delivery policy, an observer of sends); the layers above (the adversary, the
experiments) provide objects that meet them. Nothing here imports the adversary, the
transports or the experiments.
"""
