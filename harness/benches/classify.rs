//! Benchmark: classify a generated 50 MB buildkitd debug log by streaming it from disk; prints throughput and peak memory.
//!
//! Run with `cargo bench --bench classify` (optionally `-- <megabytes>`). The log is written to a temporary file
//! (never held in memory), then classified three times with [`harness::classify::classify_reader`]; the peak
//! resident set (`VmHWM` from `/proc/self/status`, Linux only) is printed before and after, so a flat memory profile
//! shows as an unchanged figure. Target: under 1 s for 50 MB.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::time::{Duration, Instant};

use harness::classify::{Class, classify_reader};

const DEFAULT_MB: usize = 50;

#[path = "common/rng.rs"]
mod rng;

use rng::Rng;

/// What the generated log needs beyond the shared generator: hex digests and BuildKit-like ids.
impl Rng {
    fn hex(&mut self, digits: usize) -> String {
        let mut s = String::with_capacity(digits);
        while s.len() < digits {
            s.push_str(&format!("{:016x}", self.next()));
        }
        s.truncate(digits);
        s
    }

    fn id(&mut self) -> String {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        (0..25).map(|_| ALPHABET[self.below(36) as usize] as char).collect()
    }
}

fn timestamp(i: u64) -> String {
    let secs = i / 1000;
    format!(
        "2026-03-18T{:02}:{:02}:{:02}.{:09}Z",
        (secs / 3600) % 24,
        (secs / 60) % 60,
        secs % 60,
        (i % 1000) * 1_000_317
    )
}

/// One line of realistic buildkitd `--debug` noise: gRPC traces, snapshot and hcsshim debug, session and cache lines.
fn noise(rng: &mut Rng, i: u64) -> String {
    let ts = timestamp(i);
    let span = rng.hex(16);
    let trace = rng.hex(32);
    let snap = 100_000 + rng.below(30_000);
    match rng.below(12) {
        0 => format!(r#"time="{ts}" level=debug msg="session started" spanID={span} traceID={trace}"#),
        1 => format!(
            r#"time="{ts}" level=debug msg="hcsshim::ActivateLayer" path="C:\\ProgramData\\containerd\\root\\io.containerd.snapshotter.v1.windows\\snapshots\\{snap}""#
        ),
        2 => format!(
            r#"time="{ts}" level=debug msg="hcsshim::ActivateLayer - succeeded" path="C:\\ProgramData\\containerd\\root\\io.containerd.snapshotter.v1.windows\\snapshots\\{snap}""#
        ),
        3 => format!(
            r#"time="{ts}" level=debug msg="new ref for local: {}" span="[internal] load build definition from Dockerfile" spanID={span} traceID={trace}"#,
            rng.id()
        ),
        4 => format!(
            r#"time="{ts}" level=debug msg="diffcopy took: {}.{:06}s" spanID={span} traceID={trace}"#,
            rng.below(3),
            rng.below(1_000_000)
        ),
        5 => format!(
            r#"time="{ts}" level=debug msg="fetch response received" digest="sha256:{}" mediatype=application/vnd.docker.image.rootfs.diff.tar.gzip response.header.content-length={} url="https://mcr.microsoft.com/v2/windows/servercore/blobs/sha256:{}""#,
            rng.hex(64),
            rng.below(900_000_000),
            rng.hex(64)
        ),
        6 => format!(
            r#"time="{ts}" level=debug msg="> creating {} [cmd /S /C powershell -Command \"Write-Host failed? no, just a word\"]" spanID={span} traceID={trace}"#,
            rng.id()
        ),
        7 => format!(
            r#"time="{ts}" level=info msg="response completed" grpc.code=OK grpc.method=/moby.buildkit.v1.Control/Status grpc.time_ms={}.{:03}"#,
            rng.below(400),
            rng.below(1000)
        ),
        8 => format!(
            r#"time="{ts}" level=debug msg="remove snapshot" key="buildkit/{}/{}" snapshotter=windows"#,
            rng.below(50),
            rng.id()
        ),
        9 => format!(
            r#"time="{ts}" level=debug msg="checksum of ref {}::{} computed" spanID={span}"#,
            rng.id(),
            rng.id()
        ),
        10 => format!(
            r#"time="{ts}" level=debug msg="gc: snapshot {} deleted in {}ms" namespace=buildkit"#,
            rng.id(),
            rng.below(900)
        ),
        _ => format!(r#"time="{ts}" level=debug msg="stopping session" spanID={span} traceID={trace}"#),
    }
}

/// The few lines that matter, spread through the log.
fn incident(k: usize, ts: &str) -> String {
    match k {
        0 => format!(
            r#"time="{ts}" level=warning msg="CDI setup error C:\\ProgramData\\buildkitd\\cdi: failed to monitor for changes: GetFileAttributes: The system cannot find the file specified.""#
        ),
        1 => format!(r#"time="{ts}" level=warning msg="using null network as the default""#),
        2 => format!(
            r#"time="{ts}" level=error msg="/moby.buildkit.v1.Control/Solve returned error: rpc error: code = Canceled desc = context canceled""#
        ),
        3 => format!(
            r#"time="{ts}" level=error msg="/moby.buildkit.v1.frontend.LLBBridge/Solve returned error: rpc error: code = Unknown desc = failed to read dockerfile: failed to mount {{windows-layer C:\\ProgramData\\containerd\\root\\io.containerd.snapshotter.v1.windows\\snapshots\\120494  [rw]}}: failed to set volume mount path for layer C:\\ProgramData\\containerd\\root\\io.containerd.snapshotter.v1.windows\\snapshots\\120494: failed to bind target \"C:\\\\ProgramData\\\\containerd\\\\root\\\\io.containerd.snapshotter.v1.windows\\\\snapshots\\\\120494\\\\Files\" to root \"C:\\\\buildkitd\\\\tmp\\\\buildkit-mount1819228504\": Access is denied." spanID=72e0710eea6606a9"#
        ),
        _ => format!(
            r#"time="{ts}" level=error msg="/moby.buildkit.v1.Control/Solve returned error: rpc error: code = Unknown desc = failed to mount {{windows-layer C:\\ProgramData\\containerd\\root\\io.containerd.snapshotter.v1.windows\\snapshots\\120511  [rw]}}: failed to set volume mount path for layer C:\\ProgramData\\containerd\\root\\io.containerd.snapshotter.v1.windows\\snapshots\\120511: failed to bind target \"C:\\\\ProgramData\\\\containerd\\\\root\\\\io.containerd.snapshotter.v1.windows\\\\snapshots\\\\120511\\\\Files\" to root \"C:\\\\Windows\\\\SystemTemp\\\\buildkit-mount1038987703\": Zugriff verweigert""#
        ),
    }
}

/// Writes a log of about `bytes` bytes and returns how many lines it has.
fn generate(path: &std::path::Path, bytes: usize) -> std::io::Result<u64> {
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut written = 0usize;
    let mut lines = 0u64;
    // Incidents at the start (warnings) and at 30 %, 60 %, 90 % of the log.
    let marks = [0, 1, bytes * 3 / 10, bytes * 6 / 10, bytes * 9 / 10];
    let mut next_mark = 0;
    while written < bytes {
        let line = if next_mark < marks.len() && written >= marks[next_mark] {
            next_mark += 1;
            incident(next_mark - 1, &timestamp(lines))
        } else {
            noise(&mut rng, lines)
        };
        out.write_all(line.as_bytes())?;
        out.write_all(b"\n")?;
        written += line.len() + 1;
        lines += 1;
    }
    out.flush()?;
    Ok(lines)
}

/// A `/proc/self/status` field in kB (Linux), if available.
fn status_kb(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn mb(kb: Option<u64>) -> String {
    kb.map_or("n/a".to_string(), |kb| format!("{:.1} MB", kb as f64 / 1024.0))
}

fn main() -> std::io::Result<()> {
    let megabytes = std::env::args()
        .skip(1)
        .find_map(|a| a.parse::<usize>().ok())
        .unwrap_or(DEFAULT_MB);
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("buildkitd-debug.log");
    let lines = generate(&path, megabytes * 1_000_000)?;
    let size = std::fs::metadata(&path)?.len();
    let hwm_before = status_kb("VmHWM:");

    let mut times: Vec<Duration> = Vec::new();
    let mut last = None;
    for _ in 0..3 {
        let start = Instant::now();
        let reader = BufReader::with_capacity(256 * 1024, File::open(&path)?);
        let out = classify_reader(reader)?;
        times.push(start.elapsed());
        last = Some(out);
    }
    let hwm_after = status_kb("VmHWM:");
    let out = last.expect("three runs");
    times.sort();
    let best = times[0];
    let median = times[1];
    let throughput = size as f64 / 1e6 / median.as_secs_f64();

    println!(
        "classify bench: {lines} lines, {:.1} MB streamed from disk",
        size as f64 / 1e6
    );
    println!(
        "  time: median {:.3} s, best {:.3} s ({throughput:.0} MB/s)",
        median.as_secs_f64(),
        best.as_secs_f64()
    );
    println!(
        "  peak memory (VmHWM): {} before, {} after classifying",
        mb(hwm_before),
        mb(hwm_after)
    );
    println!(
        "  result: class {} (rule {}), warnings {:?}, evidence at line {:?}",
        out.class_name(),
        out.rule.unwrap_or("-"),
        out.warnings.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
        out.evidence_line
    );
    let target = Duration::from_secs(1) * (megabytes as u32).max(1) / DEFAULT_MB as u32;
    println!(
        "  target under {:.2} s: {}",
        target.as_secs_f64(),
        if median < target { "met" } else { "MISSED" }
    );
    assert_eq!(
        out.class,
        Some(Class::BindfltAccessDenied),
        "the generated log's failure"
    );
    assert_eq!(out.warnings, vec![Class::CdiUnavailable, Class::NullNetwork]);
    Ok(())
}
