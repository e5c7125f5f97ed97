"""Live metrics of one process (the proxy or a node), served in the Prometheus format.

A process that is given a metrics port serves ``/metrics`` there (``prometheus_client``'s
HTTP server, on a thread of its own, with a registry of its own rather than the library's
global one). The hot path never touches a prometheus object: the process keeps counting
where it already counts (``ProxyStats``, the node's counters), and at scrape time
``StateCollector`` asks the process's event loop for a reading of them (``read``, run *on
the loop*, so that it sees the counters between two events and never while the loop is
changing them) and turns the plain numbers it returns into metric families on the HTTP
thread. A scrape costs the loop one call of ``read``; between scrapes metrics cost nothing.

``read`` returns ``Reading``s: a metric's name (without the ``byzlab_`` prefix), its type
(``counter`` or ``gauge``), its help text, and its samples as (labels, value) pairs. The
metric names are listed in docs/metrics.md.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = ["PREFIX", "MetricsServer", "Reading", "StateCollector", "by_label", "single"]

PREFIX = "byzlab_"
# How long a scrape waits for the loop: a loop that busy is itself worth seeing as a failed
# scrape, and the HTTP thread must not wait forever on a loop that has stopped.
READ_TIMEOUT_S = 5.0

log = logging.getLogger("byzlab.metrics")

Samples = Sequence[tuple[Mapping[str, str], float]]


@dataclass(frozen=True, slots=True)
class Reading:
    """One metric as ``read`` saw it: name (no prefix), type, help text, samples."""

    name: str
    type: str  # "counter" or "gauge"
    doc: str
    samples: Samples


def by_label(label: str, values: Mapping[Any, float] | Sequence[float]) -> Samples:
    """Samples labelled ``label`` = each key (or index) of ``values``."""
    items = values.items() if isinstance(values, Mapping) else enumerate(values)
    return [({label: str(k)}, float(v)) for k, v in items]


def single(value: float) -> Samples:
    """The one sample of an unlabelled metric."""
    return [({}, float(value))]


class StateCollector(Collector):
    """Reads the process's state on its event loop at scrape time (see the module docs)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, read: Callable[[], list[Reading]]) -> None:
        self._loop = loop
        self._read = read

    def _read_on_loop(self) -> list[Reading]:
        future: concurrent.futures.Future[list[Reading]] = concurrent.futures.Future()

        def run() -> None:
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(self._read())
                except Exception as exc:  # reported to the scrape as a server error
                    future.set_exception(exc)

        self._loop.call_soon_threadsafe(run)
        return future.result(timeout=READ_TIMEOUT_S)

    def collect(self) -> Iterator[Metric]:
        for reading in self._read_on_loop():
            name = PREFIX + reading.name
            labels = sorted(reading.samples[0][0]) if reading.samples else []
            family: CounterMetricFamily | GaugeMetricFamily
            if reading.type == "counter":
                family = CounterMetricFamily(name, reading.doc, labels=labels)
            else:
                family = GaugeMetricFamily(name, reading.doc, labels=labels)
            for sample_labels, value in reading.samples:
                family.add_metric([sample_labels[k] for k in labels], value)
            yield family


class MetricsServer:
    """``/metrics`` on ``host:port`` for one process, with its own registry; port 0: off."""

    def __init__(self, host: str, port: int, read: Callable[[], list[Reading]]) -> None:
        self.host = host
        self.port = port
        self._read = read
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Serve from now on (call on the process's event loop). A port that cannot be had
        is logged and the process runs on without metrics: they must not cost a run."""
        if not self.port:
            return
        registry = CollectorRegistry(auto_describe=False)
        registry.register(StateCollector(asyncio.get_running_loop(), self._read))
        try:
            self._server, self._thread = start_http_server(self.port, self.host, registry)
        except OSError as exc:
            log.error("metrics: cannot serve on %s:%d: %s", self.host, self.port, exc)
            return
        log.info("metrics on http://%s:%d/metrics", self.host, self.port)

    def stop(self) -> None:
        """Stop serving (idempotent). A scrape in progress gets its answer or an error."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=READ_TIMEOUT_S)
            self._thread = None
