//! `byzlab_native`: byzlab's native engine, a Python extension (PyO3, abi3 for CPython >=
//! 3.11). It holds CPython's Mersenne Twister bit for bit (`mt`), the oblivious schedulers
//! (`sched`), the honest Bracha node with local and ideal coins (`node`) and the simulator's
//! event loop (`sim`). byzlab's Python code is the specification; `byzlab.native` wraps
//! this module and the differential tests (tests/test_native*.py) hold the two to identical
//! trace hashes.

use std::rc::Rc;
use std::time::Duration;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

mod mt;
mod node;
mod queue;
mod sched;
mod sim;

use mt::Mt;
use node::{Node, NodeConfig};
use sched::{Kind, Scheduler};
use sim::{Limits, LogEntry, Sim, KIND_NAMES};

/// CPython's `random.Random`, natively: for the differential tests of the streams.
#[pyclass(name = "Random", module = "byzlab_native", unsendable)]
struct PyRandom(Mt);

fn state_error() -> PyErr {
    PyValueError::new_err("not a random.Random state: 624 words below 2**32 and a position <= 624")
}

#[pymethods]
impl PyRandom {
    /// `random.Random(seed)` for the seed whose |value| has these little-endian 32-bit words.
    #[staticmethod]
    fn from_key(words: Vec<u32>) -> Self {
        PyRandom(Mt::from_key(&words))
    }
    /// The generator in the state `random.Random.getstate()[1]` gives.
    #[staticmethod]
    fn from_state(state: Vec<u64>) -> PyResult<Self> {
        Mt::from_state(&state).map(PyRandom).ok_or_else(state_error)
    }
    fn state(&self) -> Vec<u64> {
        self.0.state()
    }
    fn random(&mut self) -> f64 {
        self.0.random()
    }
    /// `getrandbits(k)` as little-endian 32-bit words.
    fn getrandbits_words(&mut self, k: u32) -> Vec<u32> {
        self.0.getrandbits_words(k)
    }
    fn randbelow(&mut self, n: u64) -> PyResult<u64> {
        if n == 0 {
            return Err(PyValueError::new_err("randbelow needs n > 0"));
        }
        Ok(self.0.randbelow(n))
    }
    fn choice_index(&mut self, len: u64) -> PyResult<u64> {
        self.randbelow(len)
    }
    fn shuffle_indices(&mut self, len: usize) -> Vec<usize> {
        self.0.shuffle_indices(len)
    }
    fn sample_indices(&mut self, n: usize, k: usize) -> PyResult<Vec<usize>> {
        if k > n {
            return Err(PyValueError::new_err("sample larger than population"));
        }
        Ok(self.0.sample_indices(n, k))
    }
    fn expovariate(&mut self, lambd: f64) -> f64 {
        self.0.expovariate(lambd)
    }
}

/// What a finished native run reports (Send, so the run can leave the GIL).
struct Outcome {
    stopped: &'static str,
    violation: Option<String>,
    hash: u64,
    now: f64,
    deliveries: u64,
    messages: u64,
    bytes: u64,
    by_kind: Vec<(&'static str, u64)>,
    decisions: Vec<(u32, i8, u32, f64)>,
    initials: u64,
    iterations: Vec<u32>,
    rejected: Vec<Vec<(&'static str, u64)>>, // per node, as its counters have them
    dropped: Vec<(&'static str, u64)>,
    coin_outputs: Vec<Vec<(u32, i8)>>,
    starts: Vec<Vec<(u32, f64)>>,
    halts: Vec<Option<f64>>,
    log: Option<Vec<LogEntry>>,
}

fn merge(into: &mut Vec<(&'static str, u64)>, from: &[(&'static str, u64)]) {
    for &(reason, count) in from {
        match into.iter_mut().find(|(r, _)| *r == reason) {
            Some(entry) => entry.1 += count,
            None => into.push((reason, count)),
        }
    }
}

fn members(ids: &[usize], n: usize) -> Vec<bool> {
    let mut set = vec![false; n];
    for &i in ids {
        if i < n {
            set[i] = true;
        }
    }
    set
}

/// One simulator run of honest Bracha nodes (local or ideal coin) under an oblivious
/// scheduler. `byzlab.native` builds the arguments from an assembled Python simulator;
/// the result is a dict of plain values.
#[pyfunction]
#[pyo3(signature = (*, n, f, quorum, window, ideal, ideal_seed, inputs, node_states,
                    scheduler, scheduler_delta, scheduler_state, members_ids, matrix, param,
                    delta, max_time, max_deliveries, timeout_s, log))]
#[allow(clippy::too_many_arguments)]
fn run(
    py: Python<'_>,
    n: usize,
    f: usize,
    quorum: usize,
    window: usize,
    ideal: bool,
    ideal_seed: Vec<u8>,
    inputs: Vec<i8>,
    node_states: Vec<Vec<u64>>,
    scheduler: &str,
    scheduler_delta: f64,
    scheduler_state: Vec<u64>,
    members_ids: Vec<usize>,
    matrix: Vec<f64>,
    param: f64,
    delta: f64,
    max_time: f64,
    max_deliveries: u64,
    timeout_s: Option<f64>,
    log: bool,
) -> PyResult<Py<PyDict>> {
    if n == 0 || inputs.len() != n || node_states.len() != n || quorum == 0 || quorum > n {
        return Err(PyValueError::new_err(format!(
            "n={n}: need n inputs and n node states and 0 < quorum <= n"
        )));
    }
    if inputs.iter().any(|&v| v != 1 && v != -1) {
        return Err(PyValueError::new_err("inputs must be -1 or +1"));
    }
    let kind = match scheduler {
        "fifo" => Kind::Fifo,
        "random" => Kind::Uniform,
        "hold-f" => Kind::Hold {
            held: members(&members_ids, n),
        },
        "exponential" => Kind::Exponential { mean: param },
        "latency-matrix" if matrix.len() == n * n => Kind::Matrix {
            matrix,
            jitter: param,
        },
        "targeted" => Kind::Targeted {
            nodes: members(&members_ids, n),
            slowdown: param,
        },
        "partition" => Kind::Partition {
            group: members(&members_ids, n),
            heal_at: param,
        },
        other => {
            return Err(PyValueError::new_err(format!(
                "scheduler {other:?} is not native (or its matrix is not n x n)"
            )))
        }
    };
    let sched_rng = Mt::from_state(&scheduler_state).ok_or_else(state_error)?;
    let rngs = node_states
        .iter()
        .map(|s| Mt::from_state(s).ok_or_else(state_error))
        .collect::<PyResult<Vec<Mt>>>()?;
    let timeout = match timeout_s {
        Some(s) if s.is_finite() && s > 0.0 => Some(Duration::from_secs_f64(s)),
        Some(s) => {
            return Err(PyValueError::new_err(format!(
                "timeout_s must be > 0, got {s}"
            )))
        }
        None => None,
    };
    let outcome = py.allow_threads(move || {
        let cfg = NodeConfig {
            n,
            f,
            quorum,
            window,
            ideal,
            ideal_seed: Rc::from(ideal_seed),
        };
        let nodes: Vec<Node> = rngs
            .into_iter()
            .enumerate()
            .map(|(i, rng)| Node::new(i, &cfg, inputs[i], rng))
            .collect();
        let sched = Scheduler {
            kind,
            n,
            delta: scheduler_delta,
            rng: sched_rng,
        };
        let limits = Limits {
            delta,
            max_time,
            max_deliveries,
            timeout,
        };
        let mut sim = Sim::new(nodes, sched, inputs, limits, log);
        let stopped = sim.run();
        let mut dropped = Vec::new();
        for node in &sim.nodes {
            merge(&mut dropped, &node.dropped().0);
        }
        Outcome {
            stopped,
            violation: sim.violation.take(),
            hash: sim.hash,
            now: sim.now,
            deliveries: sim.deliveries,
            messages: sim.messages,
            bytes: sim.bytes,
            by_kind: sim
                .kind_order
                .iter()
                .map(|&k| (KIND_NAMES[k], sim.by_kind[k]))
                .collect(),
            decisions: sim.decisions.clone(),
            initials: sim.initials,
            iterations: sim.nodes.iter().map(|n| n.iteration).collect(),
            rejected: sim.nodes.iter().map(|n| n.rejected.0.clone()).collect(),
            dropped,
            coin_outputs: sim.nodes.iter().map(|n| n.coin_outputs.clone()).collect(),
            starts: std::mem::take(&mut sim.starts),
            halts: std::mem::take(&mut sim.halts),
            log: sim.log.take(),
        }
    });
    let d = PyDict::new(py);
    d.set_item("stopped", outcome.stopped)?;
    d.set_item("violation", outcome.violation)?;
    d.set_item("hash", outcome.hash)?;
    d.set_item("now", outcome.now)?;
    d.set_item("deliveries", outcome.deliveries)?;
    d.set_item("messages", outcome.messages)?;
    d.set_item("bytes", outcome.bytes)?;
    d.set_item("by_kind", outcome.by_kind)?;
    d.set_item("decisions", outcome.decisions)?;
    d.set_item("initials", outcome.initials)?;
    d.set_item("iterations", outcome.iterations)?;
    d.set_item("rejected", outcome.rejected)?;
    d.set_item("dropped", outcome.dropped)?;
    d.set_item("coin_outputs", outcome.coin_outputs)?;
    d.set_item("starts", outcome.starts)?;
    d.set_item("halts", outcome.halts)?;
    match outcome.log {
        Some(log) => d.set_item("log", PyList::new(py, log)?)?,
        None => d.set_item("log", py.None())?,
    }
    Ok(d.unbind())
}

#[pymodule]
fn byzlab_native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("PROTOCOLS", ("bracha-local", "ideal-coin"))?;
    m.add(
        "SCHEDULERS",
        (
            "fifo",
            "random",
            "hold-f",
            "exponential",
            "latency-matrix",
            "targeted",
            "partition",
        ),
    )?;
    m.add_class::<PyRandom>()?;
    m.add_function(wrap_pyfunction!(run, m)?)?;
    Ok(())
}
