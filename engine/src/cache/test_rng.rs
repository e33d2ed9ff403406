//! A small deterministic generator (xorshift), for the tests that generate cases no list of
//! theirs thought of: the same seed gives the same cases on every machine.

/// The generator's state; any seed but zero.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    /// The next number below `n`.
    pub(crate) fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}
