//! The oblivious schedulers of `byzlab.adversary.schedulers.oblivious`, natively: each
//! delay is the same floating-point expression, in the same order of operations, drawn from
//! the same Mersenne Twister stream, as the Python class computes it. They depend on the
//! endpoints and the clock only, never on a message, which is what lets a native run
//! proceed without calling Python per message. The delta bound (`byzlab.runtime.delay`) is
//! applied by the simulator, not here.

use crate::mt::Mt;

pub enum Kind {
    /// every message takes delta
    Fifo,
    /// random() * delta
    Uniform,
    /// held senders take delta, others random() * delta * 0.25
    Hold { held: Vec<bool> },
    /// min(delta, expovariate(1 / (mean * delta)))
    Exponential { mean: f64 },
    /// min(delta, (matrix[src][dst] + random() * jitter) * delta)
    Matrix { matrix: Vec<f64>, jitter: f64 },
    /// traffic to or from the nodes takes slowdown * delta, others random() * 0.25 * delta
    Targeted { nodes: Vec<bool>, slowdown: f64 },
    /// cross-group links take delta before heal_at * delta, else random() * 0.25 * delta
    Partition { group: Vec<bool>, heal_at: f64 },
}

pub struct Scheduler {
    pub kind: Kind,
    pub n: usize,
    /// the scheduler's own delta (its context's), as the Python object reads it
    pub delta: f64,
    pub rng: Mt,
}

fn member(set: &[bool], i: usize) -> bool {
    set.get(i).copied().unwrap_or(false)
}

impl Scheduler {
    /// The delay the policy asks for a message from `src` to `dst` (two different nodes).
    #[inline]
    pub fn delay(&mut self, src: usize, dst: usize, now: f64) -> f64 {
        let delta = self.delta;
        match &self.kind {
            Kind::Fifo => delta,
            Kind::Uniform => self.rng.random() * delta,
            Kind::Hold { held } => {
                if member(held, src) && src != dst {
                    delta
                } else {
                    self.rng.random() * delta * 0.25
                }
            }
            Kind::Exponential { mean } => {
                let lambd = 1.0 / (mean * delta);
                let x = self.rng.expovariate(lambd);
                if x < delta {
                    x
                } else {
                    delta
                }
            }
            Kind::Matrix { matrix, jitter } => {
                let x = (matrix[src * self.n + dst] + self.rng.random() * jitter) * delta;
                if x < delta {
                    x
                } else {
                    delta
                }
            }
            Kind::Targeted { nodes, slowdown } => {
                if member(nodes, src) || member(nodes, dst) {
                    slowdown * delta
                } else {
                    self.rng.random() * 0.25 * delta
                }
            }
            Kind::Partition { group, heal_at } => {
                if now < heal_at * delta && member(group, src) != member(group, dst) {
                    delta
                } else {
                    self.rng.random() * 0.25 * delta
                }
            }
        }
    }
}
