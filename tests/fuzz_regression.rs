//! Replays the fuzz corpus and every crash the fuzzer found against the
//! parsers of host output and against `keel validate` on the user's files
//! (the targets `stack`, `inventory` and `module`), plus a few thousand
//! inputs mutated from the corpus with a fixed seed — no nightly toolchain
//! needed. The fuzzing itself is `fuzz/` (see README, "Fuzzing the parsers
//! of host output").

use keel::fuzzing::{TARGETS, instance_count, run};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

/// Mutated inputs per target.
const MUTATIONS: usize = 150;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// The files of `fuzz/<what>/<target>/`, sorted.
fn inputs(what: &str, target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = fuzz_dir().join(what).join(target);
    let Ok(rd) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut v: Vec<(String, Vec<u8>)> = rd
        .map(|e| e.expect("read corpus entry").path())
        .filter(|p| p.is_file())
        .map(|p| {
            let data = std::fs::read(&p).expect("read corpus file");
            (p.display().to_string(), data)
        })
        .collect();
    v.sort();
    v
}

/// Run one input; the panic message when the parser panicked.
fn replay(target: &str, data: &[u8]) -> Option<String> {
    match catch_unwind(AssertUnwindSafe(|| run(target, data))) {
        Ok(true) => None,
        Ok(false) => Some(format!("unknown target {target}")),
        Err(p) => Some(
            p.downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_string()))
                .unwrap_or_else(|| "panic".into()),
        ),
    }
}

/// xorshift64*: a fixed, dependency-free stream of pseudo-random numbers.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Bytes that matter to the parsers: separators, digits, signs, and the
/// numbers that overflow.
const DICT: &[&[u8]] = &[
    b"\n",
    b"=",
    b":",
    b" ",
    b"\t",
    b",",
    b"/",
    b"-",
    b"+",
    b".",
    b"\"",
    b"'",
    b"\\",
    b"#",
    b"\0",
    b"\xff",
    b"0",
    b"-1",
    b"9223372036854775807",
    b"-9223372036854775808",
    b"18446744073709551615",
    b"4294967296",
    b"99999999999999999999999",
    b"yes",
    b"no",
    b"absent",
    b"present",
];

fn mutate(rng: &mut Rng, base: &[u8]) -> Vec<u8> {
    let mut v = base.to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(v.len() + 1);
        match rng.below(6) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] = rng.next() as u8;
            }
            1 if !v.is_empty() => {
                let end = (at + rng.below(16)).min(v.len());
                v.drain(at.min(end)..end);
            }
            2 => {
                let d = DICT[rng.below(DICT.len())];
                v.splice(at..at, d.iter().copied());
            }
            3 if !v.is_empty() => {
                // Duplicate a slice (lines repeated, sections doubled).
                let s = rng.below(v.len());
                let e = (s + rng.below(64)).min(v.len());
                let piece = v[s..e].to_vec();
                v.splice(at..at, piece);
            }
            4 => v.truncate(at),
            _ => {
                let n = rng.below(8);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                v.splice(at..at, bytes);
            }
        }
    }
    v
}

#[test]
fn every_kind_has_a_target_and_instances() {
    for k in keel::kind_names() {
        assert!(TARGETS.contains(&k), "kind {k} has no fuzz target");
        assert!(instance_count(k) > 0, "kind {k} has no fuzz instance");
    }
}

/// Every input of the run: the corpus, the crashes, then mutations.
fn all_inputs() -> Vec<(&'static str, String, Vec<u8>)> {
    let mut all = Vec::new();
    let mut rng = Rng(0x6b65_656c_2d66_757a);
    for &target in TARGETS {
        let corpus = inputs("corpus", target);
        assert!(
            !corpus.is_empty(),
            "no corpus for fuzz target {target} under {}",
            fuzz_dir().join("corpus").display()
        );
        let crashes = inputs("regressions", target);
        let mut seeds: Vec<&[u8]> = corpus
            .iter()
            .chain(&crashes)
            .map(|(_, d)| d.as_slice())
            .collect();
        seeds.push(b"");
        let mut mutated = Vec::new();
        for i in 0..MUTATIONS {
            let seed = seeds[rng.below(seeds.len())];
            mutated.push((format!("mutation {i}"), mutate(&mut rng, seed)));
        }
        for (name, data) in crashes.into_iter().chain(corpus).chain(mutated) {
            all.push((target, name, data));
        }
    }
    all
}

/// How long one input may take (a debug build on a loaded machine); the
/// parsers take microseconds, a hang (exponential backtracking) forever.
const PER_INPUT: Duration = Duration::from_secs(20);

#[test]
fn corpus_crashes_and_mutations_neither_panic_nor_hang() {
    check_all(all_inputs());
}

/// Run every input on a worker thread; fail on a panic, or on a hang
/// (naming the input) instead of stalling.
fn check_all(all: Vec<(&'static str, String, Vec<u8>)>) {
    let total = all.len();
    let (tx, rx) = mpsc::channel::<(usize, Option<String>)>();
    let names: Vec<String> = all
        .iter()
        .map(|(t, name, data)| {
            let text = String::from_utf8_lossy(&data[..data.len().min(300)]).into_owned();
            format!("{t}: {name} ({text:?})")
        })
        .collect();
    std::thread::spawn(move || {
        for (i, (target, _, data)) in all.into_iter().enumerate() {
            if tx.send((i, replay(target, &data))).is_err() {
                return;
            }
        }
    });
    let mut failures = Vec::new();
    for i in 0..total {
        match rx.recv_timeout(PER_INPUT) {
            Ok((_, None)) => {}
            Ok((j, Some(p))) => failures.push(format!("{}: {p}", names[j])),
            Err(_) => panic!(
                "no answer within {PER_INPUT:?} (a hang?) on input {i} of {total}: {}",
                names[i]
            ),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {total} inputs panicked:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Large outputs a hostile (or just big) host can print, each of which a
/// quadratic or exponential parser would choke on.
fn big_inputs() -> Vec<(&'static str, String, Vec<u8>)> {
    let mut v = Vec::new();
    // `line` (instance 2: `match` with `state: absent`) where every one of
    // 100,000 lines matches.
    let n = 100_000;
    let mut line = b"\x42regex=match\ntype=file\n".to_vec();
    for i in 1..=n {
        line.extend_from_slice(format!("match={i}\n").as_bytes());
    }
    line.extend_from_slice(b"content:\n\x02");
    line.extend(std::iter::repeat_n(b"bad\n".iter().copied(), n).flatten());
    line.push(3);
    v.push(("line", "100,000 matching lines".into(), line));
    // `sshd`: an `Include` glob of 5,000 stars.
    let mut sshd =
        b"\x40sshd=yes\ndropin=absent\nmain=file\neffective_status=1\n[main]\n\x02Include /etc/ssh/sshd_config.d/"
            .to_vec();
    sshd.extend(std::iter::repeat_n(b'*', 5000));
    sshd.extend_from_slice(b"x\n\x03\n");
    v.push(("sshd", "an Include of 5,000 stars".into(), sshd));
    // `file` (instance 3: `content: "hello\n"`): a live file just under
    // the size shown as a diff in plans, every line different.
    let mut file =
        b"\x43type=file\nmode=644\nuid=0\ngid=0\nowner=root\ngroup=root\ncontent:\n\x02".to_vec();
    let mut i = 0;
    while file.len() < 250_000 {
        file.extend_from_slice(format!("line {i}\n").as_bytes());
        i += 1;
    }
    file.push(3);
    v.push(("file", "a 250 kB file to diff".into(), file));
    // Every target: its largest corpus entry repeated to about 1 MiB.
    for &target in TARGETS {
        let Some((name, data)) = inputs("corpus", target)
            .into_iter()
            .max_by_key(|(_, d)| d.len())
        else {
            continue;
        };
        let (head, body) = data.split_at(1.min(data.len()));
        let mut big = head.to_vec();
        while big.len() < 1 << 20 && !body.is_empty() {
            big.extend_from_slice(body);
        }
        v.push((target, format!("{name} repeated to 1 MiB"), big));
    }
    v
}

#[test]
fn big_outputs_neither_panic_nor_hang() {
    check_all(big_inputs());
}
