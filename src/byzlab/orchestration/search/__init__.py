"""The adversary search as an experiment: objectives, evaluations of schedules, the driver.

The algorithm (byzlab.adversary.search) proposes schedules; this package runs them in the
simulator and scores them: ``objectives`` (what a search maximises and which violations
count), ``evaluate`` (one schedule's run and score, a plain function of plain data that any
executor can map over a batch).
"""
