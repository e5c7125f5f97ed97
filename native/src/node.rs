//! An honest node of the Bracha engine with a local or an ideal shared coin, natively: the
//! same state machine as `byzlab.node.agreement.HonestNode` for the protocols
//! "bracha-local" (Bracha 1987) and "ideal-coin" (Rabin 1983), with its reliable broadcast
//! (`byzlab.node.rbc`), the Bracha part of validation (`byzlab.node.validation`: supports
//! replayed exactly, FIFO per origin, WAIT/INVALID verdicts), the step rule
//! (`byzlab.node.steps`) and the DECIDE/halt gadget. Every branch, counter and draw of the
//! Python node has its counterpart here in the same order, because the simulator's trace
//! hash must come out identical; HPZ's coin (blackboards, weights, blacklisting) is not here
//! yet, and the Python engine runs it.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::rc::Rc;

use blake2::digest::{Update, VariableOutput};
use blake2::Blake2bVar;

use crate::mt::Mt;

/// The multiplicative hash of rustc's FxHasher: the maps here are keyed by small integers
/// of the node's own making (sequence numbers, (iteration, step)), so SipHash's resistance
/// to chosen keys buys nothing and costs a tenth of a large run.
#[derive(Default)]
struct FxHasher(u64);

impl Hasher for FxHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(b as u64);
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.write_u64(i as u64);
    }
    fn write_u32(&mut self, i: u32) {
        self.write_u64(i as u64);
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

pub const INITIAL: u8 = 0;
pub const ECHO: u8 = 1;
pub const READY: u8 = 2;

/// A set of node ids (a support or a sender mask) for any n.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Bits(Vec<u64>);

impl Bits {
    pub fn new(n: usize) -> Bits {
        Bits(vec![0; n.div_ceil(64).max(1)])
    }
    #[inline]
    pub fn has(&self, i: usize) -> bool {
        self.0[i >> 6] >> (i & 63) & 1 == 1
    }
    #[inline]
    pub fn set(&mut self, i: usize) {
        self.0[i >> 6] |= 1 << (i & 63);
    }
    pub fn count(&self) -> u32 {
        self.0.iter().map(|w| w.count_ones()).sum()
    }
    pub fn ones(&self) -> impl Iterator<Item = usize> + '_ {
        self.0.iter().enumerate().flat_map(|(k, &w)| {
            (0..64)
                .filter(move |b| w >> b & 1 == 1)
                .map(move |b| k * 64 + b)
        })
    }
}

/// A Bracha step (1-3) of one iteration; the baselines carry no blackboard view.
#[derive(PartialEq, Eq, Debug)]
pub struct Vote {
    pub iteration: u32,
    pub step: u8,
    pub value: i8,
    pub support: Bits,
}

pub enum Msg {
    Rbc {
        kind: u8,
        origin: u32,
        seq: u64,
        item: Rc<Vote>,
    },
    Decide(i8),
}

pub enum Effect {
    Broadcast(Rc<Msg>),
    Decide { value: i8, iteration: u32 },
    Halt,
}

/// Counters by reason, in first-seen order (the Python `Counter`s, merged by the caller).
#[derive(Default)]
pub struct Tally(pub Vec<(&'static str, u64)>);

impl Tally {
    pub fn add(&mut self, reason: &'static str) {
        match self.0.iter_mut().find(|(r, _)| *r == reason) {
            Some(entry) => entry.1 += 1,
            None => self.0.push((reason, 1)),
        }
    }
}

/// The shared coin of `iteration`: one bit of BLAKE2b-64(seed || iteration, big-endian).
pub fn ideal_coin(seed: &[u8], iteration: u32) -> i8 {
    let mut hasher = Blake2bVar::new(8).expect("8 is a valid BLAKE2b output size");
    hasher.update(seed);
    hasher.update(&(iteration as u64).to_be_bytes());
    let mut digest = [0u8; 8];
    hasher
        .finalize_variable(&mut digest)
        .expect("8-byte output");
    if digest[0] & 1 == 1 {
        1
    } else {
        -1
    }
}

fn sgn(x: i64) -> i8 {
    if x >= 0 {
        1
    } else {
        -1
    }
}

fn kept_value(values: &[i8]) -> i8 {
    values.iter().copied().find(|&v| v != 0).unwrap_or(0)
}

fn step_value(step: u8, values: &[i8], n: usize) -> i8 {
    match step {
        2 => sgn(values.iter().map(|&v| v as i64).sum()),
        3 => {
            let ones = values.iter().filter(|&&v| v == 1).count();
            let minus = values.iter().filter(|&&v| v == -1).count();
            // "more than n / 2" with n / 2 a float: 2 * count > n
            if 2 * ones > n {
                1
            } else if 2 * minus > n {
                -1
            } else {
                0
            }
        }
        _ => kept_value(values),
    }
}

// -- reliable broadcast (byzlab.node.rbc) ------------------------------------------------

struct Instance {
    items: Vec<Rc<Vote>>,
    echo_masks: Vec<Bits>,
    ready_masks: Vec<Bits>,
    echo_from: Bits,
    ready_from: Bits,
    initial: Option<Rc<Vote>>,
    echoed: bool,
    readied: bool,
    accepted: bool,
}

impl Instance {
    fn new(n: usize) -> Instance {
        Instance {
            items: Vec::new(),
            echo_masks: Vec::new(),
            ready_masks: Vec::new(),
            echo_from: Bits::new(n),
            ready_from: Bits::new(n),
            initial: None,
            echoed: false,
            readied: false,
            accepted: false,
        }
    }
    fn find(&self, item: &Rc<Vote>) -> Option<usize> {
        self.items
            .iter()
            .position(|k| Rc::ptr_eq(k, item) || **k == **item)
    }
    fn index(&mut self, item: &Rc<Vote>, n: usize) -> usize {
        if let Some(i) = self.find(item) {
            return i;
        }
        self.items.push(item.clone());
        self.echo_masks.push(Bits::new(n));
        self.ready_masks.push(Bits::new(n));
        self.items.len() - 1
    }
}

struct Rbc {
    me: u32,
    n: usize,
    window: u64,
    echo_threshold: u32,
    amplify_threshold: u32,
    accept_threshold: u32,
    instances: Vec<FastMap<u64, Instance>>,
    next: Vec<u64>,
    accepted: Vec<FastMap<u64, Rc<Vote>>>,
    own_seq: u64,
    dropped: Tally,
}

type Delivered = (usize, u64, Rc<Vote>);

impl Rbc {
    fn new(me: u32, n: usize, f: usize, window: u64) -> Rbc {
        Rbc {
            me,
            n,
            window,
            echo_threshold: ((n + f + 2) / 2) as u32,
            amplify_threshold: (f + 1) as u32,
            accept_threshold: (2 * f + 1) as u32,
            instances: (0..n).map(|_| FastMap::default()).collect(),
            next: vec![1; n],
            accepted: (0..n).map(|_| FastMap::default()).collect(),
            own_seq: 0,
            dropped: Tally::default(),
        }
    }

    fn broadcast(&mut self, item: Vote) -> Msg {
        self.own_seq += 1;
        Msg::Rbc {
            kind: INITIAL,
            origin: self.me,
            seq: self.own_seq,
            item: Rc::new(item),
        }
    }

    fn handle(
        &mut self,
        sender: usize,
        kind: u8,
        origin: usize,
        seq: u64,
        item: &Rc<Vote>,
        out: &mut Vec<Effect>,
    ) -> Option<Vec<Delivered>> {
        let nxt = self.next[origin];
        if seq < nxt {
            self.dropped.add("late");
            return None;
        }
        if seq >= nxt + self.window {
            self.dropped.add("beyond-window");
            return None;
        }
        let n = self.n;
        let inst = self.instances[origin]
            .entry(seq)
            .or_insert_with(|| Instance::new(n));
        if inst.accepted {
            self.dropped.add("after-accept");
            return None;
        }
        let rbc_msg = |kind: u8, item: Rc<Vote>| {
            Effect::Broadcast(Rc::new(Msg::Rbc {
                kind,
                origin: origin as u32,
                seq,
                item,
            }))
        };
        match kind {
            ECHO => {
                if inst.echo_from.has(sender) {
                    let same = inst
                        .find(item)
                        .is_some_and(|i| inst.echo_masks[i].has(sender));
                    self.dropped.add(if same {
                        "duplicate-echo"
                    } else {
                        "conflicting-echo"
                    });
                    return None;
                }
                let idx = inst.index(item, n);
                inst.echo_from.set(sender);
                inst.echo_masks[idx].set(sender);
                if !inst.readied && inst.echo_masks[idx].count() >= self.echo_threshold {
                    inst.readied = true;
                    out.push(rbc_msg(READY, inst.items[idx].clone()));
                }
                None
            }
            READY => {
                if inst.ready_from.has(sender) {
                    let same = inst
                        .find(item)
                        .is_some_and(|i| inst.ready_masks[i].has(sender));
                    self.dropped.add(if same {
                        "duplicate-ready"
                    } else {
                        "conflicting-ready"
                    });
                    return None;
                }
                let idx = inst.index(item, n);
                inst.ready_from.set(sender);
                inst.ready_masks[idx].set(sender);
                let count = inst.ready_masks[idx].count();
                if !inst.readied && count >= self.amplify_threshold {
                    inst.readied = true;
                    out.push(rbc_msg(READY, inst.items[idx].clone()));
                }
                if count >= self.accept_threshold {
                    inst.accepted = true;
                    let accepted = inst.items[idx].clone();
                    return self.accept(origin, seq, accepted);
                }
                None
            }
            INITIAL => {
                if sender != origin {
                    self.dropped.add("initial-not-from-origin");
                    return None;
                }
                if let Some(initial) = &inst.initial {
                    let same = Rc::ptr_eq(initial, item) || **initial == **item;
                    self.dropped.add(if same {
                        "duplicate-initial"
                    } else {
                        "conflicting-initial"
                    });
                    return None;
                }
                inst.initial = Some(item.clone());
                if !inst.echoed {
                    inst.echoed = true;
                    out.push(rbc_msg(ECHO, item.clone()));
                }
                None
            }
            _ => {
                self.dropped.add("bad-kind");
                None
            }
        }
    }

    fn accept(&mut self, origin: usize, seq: u64, item: Rc<Vote>) -> Option<Vec<Delivered>> {
        if seq != self.next[origin] {
            self.accepted[origin].insert(seq, item);
            return None;
        }
        let instances = &mut self.instances[origin];
        let buffered = &mut self.accepted[origin];
        let mut delivered = vec![(origin, seq, item)];
        instances.remove(&seq);
        let mut seq = seq + 1;
        while let Some(item) = buffered.remove(&seq) {
            delivered.push((origin, seq, item));
            instances.remove(&seq);
            seq += 1;
        }
        self.next[origin] = seq;
        Some(delivered)
    }
}

// -- validation, the Bracha part (byzlab.node.validation) --------------------------------

enum Verdict {
    Valid,
    Wait,
    Invalid(&'static str),
}

#[derive(Default, Clone)]
struct Shadow {
    vote: (u32, u8),
    dead: bool,
}

struct Knowledge {
    n: usize,
    quorum: usize,
    ideal: bool,
    ideal_seed: Rc<[u8]>,
    validated: Vec<u64>,
    votes: FastMap<(u32, u8), Vec<Option<i8>>>,
    vote_order: FastMap<(u32, u8), Vec<usize>>,
    shadows: Vec<Shadow>,
}

impl Knowledge {
    fn vote_count(&self, t: u32, step: u8) -> usize {
        self.vote_order.get(&(t, step)).map_or(0, Vec::len)
    }

    fn first_quorum(&self, t: u32, step: u8) -> (Bits, Vec<i8>) {
        let order = &self.vote_order[&(t, step)][..self.quorum];
        let votes = &self.votes[&(t, step)];
        let mut support = Bits::new(self.n);
        let mut values = Vec::with_capacity(order.len());
        for &j in order {
            support.set(j);
            values.push(votes[j].expect("a vote in the order has a value"));
        }
        (support, values)
    }

    fn support_values(&self, support: &Bits, t: u32, step: u8) -> Result<Vec<i8>, Verdict> {
        // a support with bits at or beyond n is malformed, as is one of the wrong size
        let beyond = support.ones().any(|j| j >= self.n);
        if beyond || support.count() as usize != self.quorum {
            return Err(Verdict::Invalid("support-size"));
        }
        let Some(votes) = self.votes.get(&(t, step)) else {
            return Err(Verdict::Wait);
        };
        let mut values = Vec::with_capacity(self.quorum);
        for j in support.ones() {
            match votes[j] {
                Some(v) => values.push(v),
                None => return Err(Verdict::Wait),
            }
        }
        Ok(values)
    }

    fn check(&self, q: usize, item: &Vote) -> Verdict {
        if !(-1..=1).contains(&item.value) {
            return Verdict::Invalid("value-out-of-range");
        }
        let shadow = &self.shadows[q];
        let (t, step, value) = (item.iteration, item.step, item.value);
        if step == 1 {
            if value == 0 {
                return Verdict::Invalid("bottom-in-step-1");
            }
            if t == 1 {
                if shadow.vote != (0, 0) {
                    return Verdict::Invalid("out-of-order");
                }
                return if item.support.count() == 0 {
                    Verdict::Valid
                } else {
                    Verdict::Invalid("extra")
                };
            }
            if shadow.vote != (t - 1, 3) {
                return Verdict::Invalid("out-of-order");
            }
            let values = match self.support_values(&item.support, t - 1, 3) {
                Ok(values) => values,
                Err(verdict) => return verdict,
            };
            let vstar = kept_value(&values);
            if vstar != 0 {
                return if value == vstar {
                    Verdict::Valid
                } else {
                    Verdict::Invalid("kept-value")
                };
            }
            if self.ideal && value != ideal_coin(&self.ideal_seed, t - 1) {
                return Verdict::Invalid("coin-outcome");
            }
            return Verdict::Valid;
        }
        if shadow.vote != (t, step - 1) {
            return Verdict::Invalid("out-of-order");
        }
        if step == 4 {
            return Verdict::Invalid("no-coin-stage-in-baseline");
        }
        let values = match self.support_values(&item.support, t, step - 1) {
            Ok(values) => values,
            Err(verdict) => return verdict,
        };
        if value == step_value(step, &values, self.n) {
            Verdict::Valid
        } else if step == 2 {
            Verdict::Invalid("step-2-value")
        } else {
            Verdict::Invalid("step-3-value")
        }
    }

    fn apply(&mut self, q: usize, seq: u64, item: &Vote) {
        let key = (item.iteration, item.step);
        let n = self.n;
        self.votes.entry(key).or_insert_with(|| vec![None; n])[q] = Some(item.value);
        self.vote_order.entry(key).or_default().push(q);
        self.shadows[q].vote = key;
        self.validated[q] = seq;
    }
}

// -- the node (byzlab.node.agreement) ----------------------------------------------------

pub struct Node {
    pub me: usize,
    n: usize,
    f: usize,
    quorum: usize,
    window: usize,
    rng: Mt,
    rbc: Rbc,
    know: Knowledge,
    voting: bool,
    pub iteration: u32,
    step: u8,
    value: i8,
    pub decision: Option<i8>,
    pub halted: bool,
    pub coin_outputs: Vec<(u32, i8)>,
    pub rejected: Tally,
    pending: Vec<Vec<(u64, Rc<Vote>)>>,
    decide_from: [Bits; 2],
}

pub struct NodeConfig {
    pub n: usize,
    pub f: usize,
    pub quorum: usize,
    pub window: usize,
    pub ideal: bool,
    pub ideal_seed: Rc<[u8]>,
}

impl Node {
    pub fn new(me: usize, cfg: &NodeConfig, input: i8, rng: Mt) -> Node {
        let n = cfg.n;
        Node {
            me,
            n,
            f: cfg.f,
            quorum: cfg.quorum,
            window: cfg.window,
            rng,
            rbc: Rbc::new(me as u32, n, cfg.f, cfg.window as u64),
            know: Knowledge {
                n,
                quorum: cfg.quorum,
                ideal: cfg.ideal,
                ideal_seed: cfg.ideal_seed.clone(),
                validated: vec![0; n],
                votes: FastMap::default(),
                vote_order: FastMap::default(),
                shadows: vec![Shadow::default(); n],
            },
            voting: false,
            iteration: 1,
            step: 0,
            value: input,
            decision: None,
            halted: false,
            coin_outputs: Vec::new(),
            rejected: Tally::default(),
            pending: (0..n).map(|_| Vec::new()).collect(),
            decide_from: [Bits::new(n), Bits::new(n)],
        }
    }

    pub fn dropped(&self) -> &Tally {
        &self.rbc.dropped
    }

    pub fn start(&mut self, out: &mut Vec<Effect>) {
        if !self.voting && !self.halted {
            let value = self.value;
            self.vote(1, 1, value, Bits::new(self.n), out);
        }
    }

    pub fn receive(&mut self, sender: usize, msg: &Msg, out: &mut Vec<Effect>) {
        if self.halted {
            return;
        }
        match msg {
            Msg::Rbc {
                kind,
                origin,
                seq,
                item,
            } => {
                let origin = *origin as usize;
                if origin >= self.n || *seq < 1 {
                    self.rejected.add("malformed-rbc");
                    return;
                }
                let Some(delivered) = self.rbc.handle(sender, *kind, origin, *seq, item, out)
                else {
                    return;
                };
                for (origin, seq, item) in delivered {
                    if self.know.shadows[origin].dead {
                        continue;
                    }
                    let queue = &mut self.pending[origin];
                    if queue.len() >= self.window {
                        self.know.shadows[origin].dead = true;
                        self.rejected.add("pending-overflow");
                        queue.clear();
                        continue;
                    }
                    queue.push((seq, item));
                }
                self.drain();
                self.progress(out);
            }
            Msg::Decide(value) => {
                if *value == 1 || *value == -1 {
                    self.on_decide_msg(sender, *value, out);
                } else {
                    self.rejected.add("malformed-decide");
                }
            }
        }
    }

    fn drain(&mut self) {
        let mut progressed = true;
        while progressed {
            progressed = false;
            for q in 0..self.n {
                let mut taken = 0;
                let len = self.pending[q].len();
                while taken < len {
                    let (seq, item) = self.pending[q][taken].clone();
                    match self.know.check(q, &item) {
                        Verdict::Wait => break,
                        Verdict::Valid => {
                            taken += 1;
                            self.know.apply(q, seq, &item);
                            progressed = true;
                        }
                        Verdict::Invalid(reason) => {
                            self.know.shadows[q].dead = true;
                            self.rejected.add(reason);
                            taken = len;
                        }
                    }
                }
                if taken > 0 {
                    self.pending[q].drain(..taken);
                }
            }
        }
    }

    fn vote(&mut self, t: u32, step: u8, value: i8, support: Bits, out: &mut Vec<Effect>) {
        self.voting = true;
        self.iteration = t;
        self.step = step;
        let msg = self.rbc.broadcast(Vote {
            iteration: t,
            step,
            value,
            support,
        });
        out.push(Effect::Broadcast(Rc::new(msg)));
    }

    fn progress(&mut self, out: &mut Vec<Effect>) {
        while !self.halted && self.voting && self.know.validated[self.me] == self.rbc.own_seq {
            let (t, step) = (self.iteration, self.step);
            if self.know.vote_count(t, step) < self.quorum {
                return;
            }
            let (support, values) = self.know.first_quorum(t, step);
            self.after_vote(t, step, support, &values, out);
        }
    }

    fn after_vote(
        &mut self,
        t: u32,
        step: u8,
        support: Bits,
        values: &[i8],
        out: &mut Vec<Effect>,
    ) {
        if step < 3 {
            let value = step_value(step + 1, values, self.n);
            self.vote(t, step + 1, value, support, out);
            return;
        }
        let nonzero: Vec<i8> = values.iter().copied().filter(|&v| v != 0).collect();
        let (x, vstar) = (nonzero.len(), nonzero.first().copied().unwrap_or(0));
        if x >= 1 {
            self.value = vstar;
        }
        if x > self.f && self.decision.is_none() {
            self.decide(vstar, t, out);
        }
        if x == 0 {
            self.value = if self.know.ideal {
                ideal_coin(&self.know.ideal_seed, t)
            } else if self.rng.choice_index(2) == 0 {
                -1
            } else {
                1
            };
            self.coin_outputs.push((t, self.value));
        }
        let value = self.value;
        self.vote(t + 1, 1, value, support, out);
    }

    fn decide(&mut self, value: i8, iteration: u32, out: &mut Vec<Effect>) {
        self.decision = Some(value);
        out.push(Effect::Decide { value, iteration });
        out.push(Effect::Broadcast(Rc::new(Msg::Decide(value))));
    }

    fn on_decide_msg(&mut self, sender: usize, value: i8, out: &mut Vec<Effect>) {
        if self.decide_from[0].has(sender) || self.decide_from[1].has(sender) {
            self.rejected.add("duplicate-decide");
            return;
        }
        let slot = if value == 1 { 0 } else { 1 };
        self.decide_from[slot].set(sender);
        let count = self.decide_from[slot].count() as usize;
        if count > self.f && self.decision.is_none() {
            let t = self.iteration;
            self.decide(value, t, out);
        }
        if count > 2 * self.f && self.decision == Some(value) {
            self.halted = true;
            out.push(Effect::Halt);
        }
    }
}
