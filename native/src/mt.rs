//! CPython's `random.Random`, bit for bit: the MT19937 generator seeded the way
//! `random.seed(int)` seeds it (`init_by_array` over the 32-bit words of |seed|), and the
//! methods byzlab's runs draw from (`random`, `getrandbits`, `_randbelow`, `choice`,
//! `shuffle`, `sample`, `expovariate`), each the same arithmetic as CPython 3.11's
//! `Modules/_randommodule.c` and `Lib/random.py`. A run's streams are handed over as
//! `random.Random.getstate()` snapshots, so the native engine continues exactly where the
//! Python objects stand.

const N: usize = 624;
const M: usize = 397;
const MATRIX_A: u32 = 0x9908_b0df;
const UPPER_MASK: u32 = 0x8000_0000;
const LOWER_MASK: u32 = 0x7fff_ffff;

#[derive(Clone)]
pub struct Mt {
    state: [u32; N],
    index: usize,
}

impl Mt {
    /// `random.Random(seed)` for the integer whose |value| has these little-endian 32-bit
    /// words (CPython's `random_seed`: zero is one word 0).
    pub fn from_key(key: &[u32]) -> Mt {
        let key: &[u32] = if key.is_empty() { &[0] } else { key };
        let mut mt = Mt::genrand(19_650_218);
        let s = &mut mt.state;
        let (mut i, mut j) = (1usize, 0usize);
        for _ in 0..N.max(key.len()) {
            s[i] = (s[i] ^ (s[i - 1] ^ (s[i - 1] >> 30)).wrapping_mul(1_664_525))
                .wrapping_add(key[j])
                .wrapping_add(j as u32);
            i += 1;
            j += 1;
            if i >= N {
                s[0] = s[N - 1];
                i = 1;
            }
            if j >= key.len() {
                j = 0;
            }
        }
        for _ in 0..N - 1 {
            s[i] = (s[i] ^ (s[i - 1] ^ (s[i - 1] >> 30)).wrapping_mul(1_566_083_941))
                .wrapping_sub(i as u32);
            i += 1;
            if i >= N {
                s[0] = s[N - 1];
                i = 1;
            }
        }
        s[0] = 0x8000_0000;
        mt
    }

    fn genrand(seed: u32) -> Mt {
        let mut state = [0u32; N];
        state[0] = seed;
        for i in 1..N {
            state[i] = 1_812_433_253u32
                .wrapping_mul(state[i - 1] ^ (state[i - 1] >> 30))
                .wrapping_add(i as u32);
        }
        Mt { state, index: N }
    }

    /// The generator in the state `random.Random.getstate()[1]` describes: 624 words and
    /// the position. None when the snapshot is not one (wrong length, position beyond 624).
    pub fn from_state(words: &[u64]) -> Option<Mt> {
        if words.len() != N + 1 || words.iter().any(|&w| w > u32::MAX as u64) {
            return None;
        }
        let index = words[N] as usize;
        if index > N {
            return None;
        }
        let mut state = [0u32; N];
        for (s, &w) in state.iter_mut().zip(words) {
            *s = w as u32;
        }
        Some(Mt { state, index })
    }

    /// The state as `getstate()[1]` lists it.
    pub fn state(&self) -> Vec<u64> {
        let mut out: Vec<u64> = self.state.iter().map(|&w| w as u64).collect();
        out.push(self.index as u64);
        out
    }

    fn twist(&mut self) {
        let mag = |y: u32| if y & 1 == 1 { MATRIX_A } else { 0 };
        let s = &mut self.state;
        for kk in 0..N - M {
            let y = (s[kk] & UPPER_MASK) | (s[kk + 1] & LOWER_MASK);
            s[kk] = s[kk + M] ^ (y >> 1) ^ mag(y);
        }
        for kk in N - M..N - 1 {
            let y = (s[kk] & UPPER_MASK) | (s[kk + 1] & LOWER_MASK);
            s[kk] = s[kk + M - N] ^ (y >> 1) ^ mag(y);
        }
        let y = (s[N - 1] & UPPER_MASK) | (s[0] & LOWER_MASK);
        s[N - 1] = s[M - 1] ^ (y >> 1) ^ mag(y);
        self.index = 0;
    }

    pub fn next_u32(&mut self) -> u32 {
        if self.index >= N {
            self.twist();
        }
        let mut y = self.state[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    /// `random()`: 53 bits, a in the high 27 and b in the low 26.
    pub fn random(&mut self) -> f64 {
        let a = (self.next_u32() >> 5) as f64;
        let b = (self.next_u32() >> 6) as f64;
        (a * 67_108_864.0 + b) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// `getrandbits(k)` as little-endian 32-bit words (the last one holds k mod 32 bits).
    pub fn getrandbits_words(&mut self, k: u32) -> Vec<u32> {
        let mut out = Vec::with_capacity(k.div_ceil(32) as usize);
        let mut left = k;
        while left > 0 {
            let r = self.next_u32();
            out.push(if left < 32 { r >> (32 - left) } else { r });
            left = left.saturating_sub(32);
        }
        out
    }

    /// `getrandbits(k)` for k <= 64.
    pub fn getrandbits(&mut self, k: u32) -> u64 {
        debug_assert!(k <= 64);
        if k <= 32 {
            return if k == 0 {
                0
            } else {
                (self.next_u32() >> (32 - k)) as u64
            };
        }
        let low = self.next_u32() as u64;
        let high = (self.next_u32() >> (64 - k)) as u64;
        low | high << 32
    }

    /// `_randbelow(n)` (n > 0): getrandbits(n.bit_length()) until below n.
    pub fn randbelow(&mut self, n: u64) -> u64 {
        let k = 64 - n.leading_zeros();
        loop {
            let r = self.getrandbits(k);
            if r < n {
                return r;
            }
        }
    }

    /// The index `choice(seq)` takes for a sequence of `len` (> 0) elements.
    pub fn choice_index(&mut self, len: u64) -> u64 {
        self.randbelow(len)
    }

    /// `shuffle(x)` on a list of `len` elements, applied to the indices 0..len.
    pub fn shuffle_indices(&mut self, len: usize) -> Vec<usize> {
        let mut x: Vec<usize> = (0..len).collect();
        for i in (1..len).rev() {
            let j = self.randbelow(i as u64 + 1) as usize;
            x.swap(i, j);
        }
        x
    }

    /// `sample(range(n), k)` (k <= n): the pool method for small populations, the set
    /// method otherwise, chosen by CPython's own size rule.
    pub fn sample_indices(&mut self, n: usize, k: usize) -> Vec<usize> {
        let mut setsize = 21usize;
        if k > 5 {
            let exponent = ((k * 3) as f64).ln() / 4f64.ln();
            setsize += 4usize.pow(exponent.ceil() as u32);
        }
        let mut result = Vec::with_capacity(k);
        if n <= setsize {
            let mut pool: Vec<usize> = (0..n).collect();
            for i in 0..k {
                let j = self.randbelow((n - i) as u64) as usize;
                result.push(pool[j]);
                pool[j] = pool[n - i - 1];
            }
        } else {
            let mut selected = std::collections::HashSet::with_capacity(k);
            for _ in 0..k {
                let mut j = self.randbelow(n as u64) as usize;
                while selected.contains(&j) {
                    j = self.randbelow(n as u64) as usize;
                }
                selected.insert(j);
                result.push(j);
            }
        }
        result
    }

    /// `expovariate(lambd)`: -log(1 - random()) / lambd (the platform's libm log, as
    /// CPython's `math.log`).
    pub fn expovariate(&mut self, lambd: f64) -> f64 {
        -(1.0 - self.random()).ln() / lambd
    }
}

#[cfg(test)]
mod tests {
    use super::Mt;

    #[test]
    fn known_cpython_values() {
        // random.Random(0).random(), random.Random(42).random(), random.Random(2**40).random()
        assert_eq!(Mt::from_key(&[0]).random(), 0.8444218515250481);
        assert_eq!(Mt::from_key(&[42]).random(), 0.6394267984578837);
        assert_eq!(Mt::from_key(&[0, 256]).random(), 0.1036394562812375);
    }

    #[test]
    fn state_round_trips() {
        let mut mt = Mt::from_key(&[7]);
        mt.random();
        let mut copy = Mt::from_state(&mt.state()).expect("a valid state");
        assert_eq!(copy.random(), mt.random());
    }
}
