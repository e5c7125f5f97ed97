//! The simulator's event loop, natively: `byzlab.network.sim.Simulator` for runs whose every
//! node is an honest native node and whose scheduler is oblivious. One priority queue of
//! deliveries ordered by (virtual time, sequence number); the effects of one input performed
//! in list order, a broadcast queued to every node in increasing id order (the sender's own
//! copy at once, never given to the scheduler), every other delay held to [0, delta] as
//! `byzlab.runtime.delay` does (NaN becomes delta); the same stopping rules and the same
//! 64-bit FNV-style trace hash arithmetic, step for step, so a seed gives the Python
//! engine's trace hash. Agreement and validity are checked on every decision as the Python
//! simulator checks them.

use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::node::{Effect, Msg, Node};
use crate::queue::Calendar;
use crate::sched::Scheduler;

const FNV: u64 = 0x100_0000_01B3;
pub const KIND_NAMES: [&str; 4] = ["INITIAL", "ECHO", "READY", "DECIDE"];

/// One delivery handed to a node, for the delivery log that locates a first difference
/// between engines: (time, dst, src, kind, origin, seq, iteration, step, value); a DECIDE
/// has kind 3 and zeros for the RBC fields.
pub type LogEntry = (f64, u32, u32, u8, u32, u64, u32, u8, i8);

pub struct Limits {
    pub delta: f64,
    pub max_time: f64,
    pub max_deliveries: u64,
    pub timeout: Option<Duration>,
}

pub struct Sim {
    pub nodes: Vec<Node>,
    sched: Scheduler,
    inputs: Vec<i8>,
    limits: Limits,
    queue: Calendar<(u32, u32, Rc<Msg>)>,
    seq: u64,
    pub hash: u64,
    pub now: f64,
    pub deliveries: u64,
    pub messages: u64,
    pub bytes: u64,
    pub by_kind: [u64; 4],
    pub kind_order: Vec<usize>,
    pub decisions: Vec<(u32, i8, u32, f64)>,
    pub halted: usize,
    pub initials: u64,
    pub log: Option<Vec<LogEntry>>,
    pub violation: Option<String>,
    /// Per node, (iteration, virtual time entered) from its first iteration on, and when
    /// it halted: the timeline the recorded run's trace keeps (orchestration/runtrace.py),
    /// read after each delivery as the Python recorder reads it.
    pub starts: Vec<Vec<(u32, f64)>>,
    pub halts: Vec<Option<f64>>,
    effects: Vec<Effect>,
}

impl Sim {
    pub fn new(
        nodes: Vec<Node>,
        sched: Scheduler,
        inputs: Vec<i8>,
        limits: Limits,
        log: bool,
    ) -> Sim {
        let starts = nodes.iter().map(|n| vec![(n.iteration, 0.0)]).collect();
        let halts = vec![None; nodes.len()];
        Sim {
            nodes,
            sched,
            inputs,
            queue: Calendar::new(limits.delta),
            limits,
            seq: 0,
            hash: 0xCBF2_9CE4_8422_2325,
            now: 0.0,
            deliveries: 0,
            messages: 0,
            bytes: 0,
            by_kind: [0; 4],
            kind_order: Vec::new(),
            decisions: Vec::new(),
            halted: 0,
            initials: 0,
            log: if log { Some(Vec::new()) } else { None },
            violation: None,
            starts,
            halts,
            effects: Vec::new(),
        }
    }

    /// Start every node, then deliver until a stopping rule; the reason, as `stopped`.
    pub fn run(&mut self) -> &'static str {
        let mut out = std::mem::take(&mut self.effects);
        for i in 0..self.nodes.len() {
            self.nodes[i].start(&mut out);
            self.perform(i, &mut out, 0.0);
            if self.violation.is_some() {
                return "invariant";
            }
        }
        let stopped = self.run_loop(&mut out);
        self.effects = out;
        stopped
    }

    fn run_loop(&mut self, out: &mut Vec<Effect>) -> &'static str {
        let honest = self.nodes.len();
        let started = Instant::now();
        while self.queue.len() > 0 {
            if self.halted == honest {
                return "all-honest-halted";
            }
            let entry = self.queue.pop().expect("a non-empty queue");
            let (time, seqno, (dst, src, msg)) = (entry.time, entry.seqno, entry.item);
            if time > self.limits.max_time {
                return "max-time";
            }
            self.now = time;
            self.deliveries += 1;
            if self.deliveries > self.limits.max_deliveries {
                return "max-deliveries";
            }
            if let Some(budget) = self.limits.timeout {
                if self.deliveries & 1023 == 0 && started.elapsed() > budget {
                    return "timeout";
                }
            }
            self.hash = (self.hash ^ seqno).wrapping_mul(FNV);
            let dst = dst as usize;
            if self.nodes[dst].halted {
                continue;
            }
            if let Some(log) = self.log.as_mut() {
                log.push(log_entry(time, dst as u32, src, &msg));
            }
            self.nodes[dst].receive(src as usize, &msg, out);
            if !out.is_empty() {
                self.perform(dst, out, time);
                if self.violation.is_some() {
                    return "invariant";
                }
            }
            let node = &self.nodes[dst];
            let log = &mut self.starts[dst];
            if log.last().is_some_and(|&(t, _)| t != node.iteration) {
                log.push((node.iteration, time));
            }
            if node.halted && self.halts[dst].is_none() {
                self.halts[dst] = Some(time);
            }
        }
        if self.halted == honest {
            "all-honest-halted"
        } else {
            "queue-empty"
        }
    }

    /// The runtime's effect interpreter (byzlab.runtime.interpreter) on this simulator.
    fn perform(&mut self, src: usize, out: &mut Vec<Effect>, now: f64) {
        for effect in out.drain(..) {
            match effect {
                Effect::Broadcast(msg) => self.transmit(src, msg, now),
                Effect::Decide { value, iteration } => self.decide(src, value, iteration),
                Effect::Halt => self.halted += 1,
            }
        }
    }

    fn transmit(&mut self, src: usize, msg: Rc<Msg>, now: f64) {
        let (key, value, kind, size) = match &*msg {
            Msg::Rbc {
                kind,
                origin,
                seq,
                item,
            } => {
                if *kind == 0 {
                    // every INITIAL starts a new instance (origin, seq): honest origins
                    // never repeat one, so counting them counts the distinct instances
                    self.initials += 1;
                }
                let key = src as u64 | (*kind as u64) << 10 | (*origin as u64) << 12 | seq << 22;
                (key, (item.value + 1) as u64, *kind as usize, 14)
            }
            Msg::Decide(value) => (src as u64 | 3 << 10, (value + 1) as u64, 3, 3),
        };
        self.hash = ((self.hash ^ key).wrapping_mul(FNV) ^ value).wrapping_mul(FNV);
        let delta = self.limits.delta;
        let n = self.nodes.len();
        for dst in 0..n {
            let delay = if dst == src {
                0.0
            } else {
                let d = self.sched.delay(src, dst, now);
                if (0.0..=delta).contains(&d) {
                    d
                } else if d < 0.0 {
                    0.0
                } else {
                    delta
                }
            };
            self.seq += 1;
            self.queue
                .push(now + delay, self.seq, (dst as u32, src as u32, msg.clone()));
        }
        let others = (n - 1) as u64;
        if others > 0 {
            self.messages += others;
            self.bytes += size * others;
            if self.by_kind[kind] == 0 {
                self.kind_order.push(kind);
            }
            self.by_kind[kind] += others;
        }
    }

    fn decide(&mut self, node: usize, value: i8, iteration: u32) {
        self.decisions
            .push((node as u32, value, iteration, self.now));
        self.hash = (self.hash ^ ((node as u64) << 8 | (value + 1) as u64)).wrapping_mul(FNV);
        let first = self.nodes.iter().find_map(|n| n.decision);
        if self
            .nodes
            .iter()
            .any(|n| n.decision.is_some_and(|d| Some(d) != first))
        {
            self.violation = Some(format!("agreement violated at t={:.3}", self.now));
            return;
        }
        let all_same = self.inputs.iter().all(|&v| v == self.inputs[0]);
        if !self.inputs.contains(&value) || (all_same && value != self.inputs[0]) {
            self.violation = Some(format!("validity violated: node {node} decided {value}"));
        }
    }
}

fn log_entry(time: f64, dst: u32, src: u32, msg: &Msg) -> LogEntry {
    match msg {
        Msg::Rbc {
            kind,
            origin,
            seq,
            item,
        } => (
            time,
            dst,
            src,
            *kind,
            *origin,
            *seq,
            item.iteration,
            item.step,
            item.value,
        ),
        Msg::Decide(value) => (time, dst, src, 3, 0, 0, 0, 0, *value),
    }
}
