"""The runtime: what drives the protocol core, independent of how messages travel.

`interfaces` names the small contracts the simulator and the real transport depend on (a
process, a delivery policy, an observer of sends); the layers above (the adversary, the
experiments) provide objects that meet them. `interpreter` is the one interpreter of the
protocol core's effects, and `delay` the one place that holds a delivery policy to the
delta bound. Nothing here imports the adversary, the transports or the experiments. The
contract is written out in docs/runtime.md.
"""
