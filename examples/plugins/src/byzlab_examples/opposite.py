"""A strategy plugin: vote the opposite of node 0's last vote, as the adversary's view shows it.

The corrupted node runs an honest node inside (`ItemRewriter` does that) and, in every vote
of its own broadcasts, puts the opposite of the value node 0 last voted. The view holds every
vote from the moment its INITIAL leaves its sender, before anyone accepted it: what HPZ's
full-information adversary knows (HPZ §2, "Full Information & Scheduling"). Votes are the
Bracha engine's, so it runs on hpz, bracha-local and ideal-coin. Honest nodes' validation
replays each vote from the quorum it claims and rejects the ones no quorum justifies: a run's
``rejected`` counts show the attack.
"""

from __future__ import annotations

from dataclasses import replace

from byzlab.api import Item, ItemRewriter, Vote

TARGET = 0  # the node whose votes it contradicts


class Opposite(ItemRewriter):
    name = "opposite-of-0"
    description = "votes the opposite of node 0's last vote, as the adversary's view shows it"

    def last_vote(self) -> int:
        """Node 0's latest vote in the view: -1 or +1, 0 for bottom or none seen yet."""
        seen = [key for key, votes in self.view.votes.items() if TARGET in votes]
        return self.view.votes[max(seen)][TARGET] if seen else 0

    def rewrite_item(self, item: Item) -> Item:
        last = self.last_vote()
        if isinstance(item, Vote) and last != 0:
            return replace(item, value=-last)
        return item
