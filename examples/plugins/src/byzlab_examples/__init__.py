"""byzlab's example plugins, built step by step in docs/tutorial-plugins.md ("Write your own
attack"): a Byzantine strategy (opposite.py), a scheduler (slow_node.py) and a protocol
(coinvote/), each written against byzlab.api only and registered as entry points in this
package's pyproject.toml."""
