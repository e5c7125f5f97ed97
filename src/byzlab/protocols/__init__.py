"""A second protocol family, written only against byzlab's public extension API (`byzlab.api`).

Two binary agreement protocols whose messages are plain (kind, round, value) triples, unlike
the Bracha engine's reliable-broadcast items, run on the same simulator, node processes,
proxy and adversary as HPZ:

* `mmr`: Mostefaoui, Moumen, Raynal, "Signature-Free Asynchronous Binary Byzantine Consensus
  with t < n/3, O(n^2) Messages, and O(1) Expected Time" (PODC 2014, JACM 2015), the binary
  agreement of HoneyBadgerBFT, with an ideal common coin;
* `ben-or`: Ben-Or, "Another Advantage of Free Choice: Completely Asynchronous Agreement
  Protocols" (PODC 1983), the Byzantine protocol with local coins (n > 5f).

They are registered under the entry-point group ``byzlab.protocols``, like any plugin.
"""
