"""The adversary's search over its own choices: find a bad schedule, then shrink it.

A schedule (byzlab.adversary.schedule) is a base scheduler on a seeded stream plus sparse
non-default delays. The search works on those as plain data and knows nothing of how a
candidate is run or scored (the orchestration layer evaluates them, byzlab.orchestration.search):

* ``mutate``: the mutation operators, aimed at messages through a run's query log;
* ``evolve``: the evolutionary search with restarts, over batches of candidates;
* ``shrink``: delta debugging (ddmin) of a set of choices to a minimal one that reproduces.
"""

from byzlab.adversary.search.evolve import Candidate, Evaluated, SearchState, evolve
from byzlab.adversary.search.mutate import OPERATORS, mutate
from byzlab.adversary.search.shrink import ddmin

__all__ = ["OPERATORS", "Candidate", "Evaluated", "SearchState", "ddmin", "evolve", "mutate"]
