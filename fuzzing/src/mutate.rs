//! The small seeded mutator of the CI pass (`tests/seeded.rs`): deterministic byte-level
//! mutations of a seed — bit flips, random bytes, inserts, deletes, duplicated ranges,
//! splices with another seed, interesting integers (0, ±1, powers of two, type limits, as
//! little- or big-endian 1/2/4/8-byte values) and ASCII numbers (for JSON and CSV). Each
//! mutant applies 1 to 4 of them. It does NOT learn from coverage: libFuzzer does that
//! (`fuzz/`); this pass only keeps known inputs and their near neighbours fixed.

/// A xorshift64* generator: small, deterministic, good enough to pick mutations.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (any value).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }
}

/// Integers that sit on boundaries parsers get wrong.
const INTERESTING: &[u64] = &[
    0,
    1,
    2,
    3,
    4,
    7,
    8,
    16,
    0x7f,
    0x80,
    0xff,
    0x100,
    0x7fff,
    0x8000,
    0xffff,
    0x1_0000,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0x1_0000_0000,
    0x7fff_ffff_ffff_ffff,
    0x8000_0000_0000_0000,
    u64::MAX,
    u64::MAX - 1,
];

/// Numbers written as text into JSON and CSV seeds.
const TEXT_NUMBERS: &[&str] = &[
    "0",
    "-1",
    "1e39",
    "-0",
    "NaN",
    "3.5e38",
    "65536",
    "4294967296",
    "1e-45",
    "2.5",
    "[]",
    "{}",
    "null",
    "\"\"",
    ",",
    "\"",
];

/// The mutant number `index` of `seed`; `others` are the other seeds to splice with.
pub fn mutant(seed: &[u8], others: &[&[u8]], index: u64) -> Vec<u8> {
    let mut rng = Rng::new(index ^ ((seed.len() as u64) << 32));
    let mut data = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        mutate_once(&mut data, others, &mut rng);
    }
    data
}

/// One mutation of `data`, in place.
fn mutate_once(data: &mut Vec<u8>, others: &[&[u8]], rng: &mut Rng) {
    let len = data.len();
    let at = rng.below(len + 1);
    match rng.below(8) {
        0 if len > 0 => data[at.min(len - 1)] ^= 1 << rng.below(8),
        1 if len > 0 => data[at.min(len - 1)] = rng.next_u64() as u8,
        2 => {
            let n = 1 + rng.below(8);
            let bytes: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
            data.splice(at..at, bytes);
        }
        3 if len > 0 => {
            let end = (at + 1 + rng.below(16)).min(len);
            data.drain(at.min(len - 1)..end);
        }
        4 if len > 0 => {
            let start = rng.below(len);
            let end = (start + 1 + rng.below(64)).min(len);
            let copy = data[start..end].to_vec();
            data.splice(at..at, copy);
        }
        5 if !others.is_empty() => {
            let other = others[rng.below(others.len())];
            let from = rng.below(other.len() + 1);
            data.truncate(at);
            data.extend_from_slice(&other[from..]);
        }
        6 if len > 0 => put_interesting(data, at.min(len - 1), rng),
        _ => {
            let text = TEXT_NUMBERS[rng.below(TEXT_NUMBERS.len())].as_bytes();
            let end = (at + rng.below(4)).min(len);
            data.splice(at..end, text.iter().copied());
        }
    }
}

/// Overwrites the bytes at `at` with an interesting integer of 1, 2, 4 or 8 bytes, little-
/// or big-endian, possibly negated.
fn put_interesting(data: &mut [u8], at: usize, rng: &mut Rng) {
    let mut value = INTERESTING[rng.below(INTERESTING.len())];
    if rng.below(4) == 0 {
        value = value.wrapping_neg();
    }
    let width = [1, 2, 4, 8][rng.below(4)];
    let bytes = if rng.below(2) == 0 {
        value.to_le_bytes()
    } else {
        (value << (64 - 8 * width)).to_be_bytes()
    };
    let end = (at + width).min(data.len());
    data[at..end].copy_from_slice(&bytes[..end - at]);
}
