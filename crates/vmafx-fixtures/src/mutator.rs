//! A small deterministic input mutator for the parsers' bounded fuzz tests (vmafx-video,
//! vmafx-engine), so that they run on stable Rust in every `cargo test`. Cases come from a seeded xorshift generator: a failure names the
//! seed and case index, and the same numbers reproduce it.

/// How many cases each fuzz test runs: `VMAFX_FUZZ_CASES`, or `default` when unset.
pub fn case_count(default: usize) -> usize {
    match std::env::var("VMAFX_FUZZ_CASES") {
        Ok(text) => text
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("VMAFX_FUZZ_CASES={text:?} is not a count")),
        Err(_) => default,
    }
}

/// The generator's seed: `VMAFX_FUZZ_SEED`, or a fixed value so that runs repeat.
pub fn seed() -> u64 {
    std::env::var("VMAFX_FUZZ_SEED")
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(0x5eed_cafe_f00d_d00d)
}

/// Byte strings that parsers treat specially, shared by every mutator.
const INTERESTING_NUMBERS: &[&str] = &[
    "0",
    "1",
    "-1",
    "2",
    "3",
    "255",
    "32768",
    "32769",
    "65536",
    "4294967295",
    "4294967296",
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999999999",
    "1e999",
    "-1e999",
    "nan",
    "inf",
    "-0",
];

/// A seeded mutator.
pub struct Mutator {
    state: u64,
}

impl Mutator {
    /// A generator for case `case` of a run seeded with `seed`.
    pub fn new(seed: u64, case: u64) -> Self {
        let mut m = Mutator {
            state: seed ^ case.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1,
        };
        // Spread nearby seeds apart.
        for _ in 0..4 {
            m.next_bits();
        }
        m
    }

    /// The next 64 random bits (xorshift64*).
    pub fn next_bits(&mut self) -> u64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_bits() % n as u64) as usize
    }

    /// True one time in `n`.
    pub fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }

    /// One of `items`.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// `len` random bytes.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next_bits() as u8).collect()
    }

    /// Applies one to four random edits to `input`: bit flips, byte changes, insertions,
    /// deletions, duplications, truncation, `dictionary` tokens, and interesting numbers in
    /// place of digit runs. The result is at most `max_len` bytes.
    pub fn mutate(&mut self, input: &mut Vec<u8>, dictionary: &[&[u8]], max_len: usize) {
        let edits = 1 + self.below(4);
        for _ in 0..edits {
            let len = input.len();
            let at = if len == 0 { 0 } else { self.below(len + 1) };
            match self.below(9) {
                0 if len > 0 => {
                    let i = self.below(len);
                    input[i] ^= 1 << self.below(8);
                }
                1 if len > 0 => {
                    let i = self.below(len);
                    input[i] = *self.pick(&[0u8, 0xff, 0x80, b'\n', b' ', b':', b'\r', b'0']);
                }
                2 => {
                    let n = 1 + self.below(8);
                    let bytes = self.bytes(n);
                    input.splice(at..at, bytes);
                }
                3 if len > 0 => {
                    let end = (at + 1 + self.below(32)).min(len);
                    input.drain(at.min(end)..end);
                }
                4 if len > 0 => {
                    let start = self.below(len);
                    let end = (start + 1 + self.below(64)).min(len);
                    let copy = input[start..end].to_vec();
                    let to = self.below(len + 1);
                    input.splice(to..to, copy);
                }
                5 => input.truncate(at),
                6 if !dictionary.is_empty() => {
                    let token = self.pick(dictionary).to_vec();
                    input.splice(at..at, token);
                }
                7 if !dictionary.is_empty() && len > 0 => {
                    let end = (at + 1 + self.below(8)).min(len);
                    let token = self.pick(dictionary).to_vec();
                    input.splice(at.min(end)..end, token);
                }
                _ => self.replace_number(input),
            }
        }
        input.truncate(max_len);
    }

    /// Replaces a random run of ASCII digits with an interesting number.
    fn replace_number(&mut self, input: &mut Vec<u8>) {
        let starts: Vec<usize> = (0..input.len())
            .filter(|&i| input[i].is_ascii_digit() && (i == 0 || !input[i - 1].is_ascii_digit()))
            .collect();
        if starts.is_empty() {
            return;
        }
        let start = *self.pick(&starts);
        let end = (start..input.len())
            .find(|&i| !input[i].is_ascii_digit())
            .unwrap_or(input.len());
        let number = self.pick(INTERESTING_NUMBERS).as_bytes().to_vec();
        input.splice(start..end, number);
    }
}

/// Runs `case` and, if it panics, saves its input under `dir` and fails naming the seed, the
/// case and the saved file.
pub fn run_case(
    dir: &std::path::Path,
    name: &str,
    seed: u64,
    index: usize,
    input: &[u8],
    case: impl FnOnce(),
) {
    if let Err(panic) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(case)) {
        let saved = dir.join(format!("{name}-crash-{index}"));
        let _ = std::fs::write(&saved, input);
        let what = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or("(no message)");
        panic!(
            "{name} fuzz case {index} (VMAFX_FUZZ_SEED={seed}) failed: {what}; input saved at {}",
            saved.display()
        );
    }
}

/// Fails unless `message` is one line (no control characters at all) that names `path`.
pub fn assert_one_line_naming(message: &str, path: &std::path::Path) {
    assert!(
        !message.chars().any(char::is_control),
        "error is not a single plain line: {message:?}"
    );
    let name = path.display().to_string();
    assert!(
        message.contains(&name),
        "error does not name {name}: {message:?}"
    );
}
