//! The simulator's queue of deliveries, in (virtual time, sequence number) order: a calendar
//! of binary heaps. Every delivery is due within [now, now + delta] (the runtime holds
//! delays to the delta bound), so the queue keeps one small heap per slice of delta / SLICES
//! of virtual time and pops from the earliest non-empty slice. The slice of a time is
//! floor(time / width), monotone in time, so the order is exactly the one global heap's;
//! only the heaps are small enough to stay in cache (one heap of millions of entries made
//! `pop` most of a large run's time).

use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};

const SLICES: f64 = 256.0;

pub struct Entry<T> {
    pub time: f64,
    pub seqno: u64,
    pub item: T,
}

impl<T> PartialEq for Entry<T> {
    fn eq(&self, other: &Self) -> bool {
        self.seqno == other.seqno
    }
}
impl<T> Eq for Entry<T> {}
impl<T> PartialOrd for Entry<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<T> Ord for Entry<T> {
    // a max-heap: the earliest (time, seqno) is the greatest; times are never NaN or
    // negative (delays are clamped into [0, delta]), so their bits order like the floats
    fn cmp(&self, other: &Self) -> Ordering {
        (other.time.to_bits(), other.seqno).cmp(&(self.time.to_bits(), self.seqno))
    }
}

pub struct Calendar<T> {
    width: f64,
    base: u64,
    slices: VecDeque<BinaryHeap<Entry<T>>>,
    spare: Vec<BinaryHeap<Entry<T>>>,
    len: usize,
}

impl<T> Calendar<T> {
    /// A queue for deliveries at most `delta` after the last one popped.
    pub fn new(delta: f64) -> Calendar<T> {
        let width = delta / SLICES;
        Calendar {
            // a zero or non-finite delta puts everything in one slice: one plain heap
            width: if width > 0.0 && width.is_finite() {
                width
            } else {
                f64::INFINITY
            },
            base: 0,
            slices: VecDeque::new(),
            spare: Vec::new(),
            len: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    fn slice(&self, time: f64) -> u64 {
        (time / self.width) as u64
    }

    /// Queue `item` at `time`, which is no earlier than the last entry popped.
    pub fn push(&mut self, time: f64, seqno: u64, item: T) {
        let index = self.slice(time);
        if self.slices.is_empty() {
            self.base = index;
        }
        // never below base: base is the slice of the last entry popped or of an entry
        // still queued, and time is no earlier than either
        let offset = index.saturating_sub(self.base) as usize;
        while self.slices.len() <= offset {
            let heap = self.spare.pop().unwrap_or_default();
            self.slices.push_back(heap);
        }
        self.slices[offset].push(Entry { time, seqno, item });
        self.len += 1;
    }

    pub fn pop(&mut self) -> Option<Entry<T>> {
        self.skip_empty();
        let entry = self.slices.front_mut()?.pop()?;
        self.len -= 1;
        Some(entry)
    }

    fn skip_empty(&mut self) {
        while self.slices.front().is_some_and(|h| h.is_empty()) {
            if self.slices.len() == 1 {
                // keep the slice of the last entry popped as the base
                break;
            }
            let heap = self.slices.pop_front().expect("non-empty deque");
            self.spare.push(heap);
            self.base += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Calendar;

    #[test]
    fn pops_in_time_then_seqno_order() {
        let mut q = Calendar::new(1.0);
        let mut seq = 0;
        let mut now = 0.0;
        let mut popped = Vec::new();
        // a deterministic mix of delays in [0, 1], ties included
        for round in 0..200u64 {
            for k in 0..5u64 {
                seq += 1;
                let delay = ((round * 7 + k * 13) % 11) as f64 / 10.0;
                q.push(now + delay.min(1.0), seq, ());
            }
            let e = q.pop().expect("queued");
            now = e.time;
            popped.push((e.time, e.seqno));
        }
        while let Some(e) = q.pop() {
            popped.push((e.time, e.seqno));
        }
        assert_eq!(popped.len(), 1000);
        assert!(popped.windows(2).all(|w| w[0] <= w[1]), "out of order");
    }
}
