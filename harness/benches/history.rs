//! Benchmark: `harness report --history` over a generated history of 10,000 runs x 20 cases x 6 steps; prints time and
//! peak memory, and `jq` over the same files for comparison.
//!
//! Run with `cargo bench -p harness --bench history` (optionally `-- <runs>`). The runs are recorded with
//! [`harness::history::record`] into a temporary folder, then the report is rendered in-process three times (load and
//! render, as the command does) and once by the release binary itself. Peak resident memory is `VmHWM` from
//! `/proc/self/status` (Linux only). Targets: under 2 s and under 500 MB.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use harness::classify::Class;
use harness::history::{RunMeta, Thresholds, View, record, rfc3339_utc};
use harness::outcome::{Outcome, StepResult, Verdict};
use harness::words::{Environment, Evidence, Lane};

const DEFAULT_RUNS: usize = 10_000;
const SCENARIOS: usize = 10;
const REPRODUCTION_STEPS: [&str; 6] = [
    "preflight",
    "rollout",
    "probe/bind-plain-dirs",
    "probe/hcs-layer",
    "build/hello",
    "teardown",
];
const WORKAROUND_STEPS: [&str; 6] = [
    "preflight",
    "rollout",
    "service",
    "probe/bind-plain-dirs",
    "build/hello",
    "teardown",
];

#[path = "common/rng.rs"]
mod rng;

use rng::Rng;

/// The versions of the nightly's three k0s releases.
fn environment(release: usize) -> Environment {
    let (k0s, containerd) = [
        ("v1.33.6+k0s", "1.7.29"),
        ("v1.34.2+k0s", "1.7.34"),
        ("v1.35.0+k0s", "2.3.3"),
    ][release % 3];
    Environment {
        k0s: Some(k0s.to_owned()),
        kubelet: Some(k0s.to_owned()),
        containerd: Some(containerd.to_owned()),
        windows_build: Some("20348.4773".to_owned()),
        buildkit: Some("v0.28.0".to_owned()),
        components: Default::default(),
    }
}

fn failed(class: &str, rng: &mut Rng) -> StepResult {
    StepResult::Failed {
        class: Class::from_name(class).expect("a known class"),
        code: Some("0x80070005".to_owned()),
        stage: Some("bind".to_owned()),
        first_error: Some(format!(
            "failed to bind target \"C:\\ProgramData\\containerd\\root\\io.containerd.snapshotter.v1.windows\\snapshots\\{}\\Files\" to root \"C:\\buildkitd\\tmp\\buildkit-mount{}\": Access is denied.",
            120_000 + rng.below(5_000),
            rng.below(10_000_000_000)
        )),
    }
}

/// What one step did in run `run` on release `release`: the bug reproduces until containerd 2.x from run 7,000 on,
/// one probe flakes, and one step in 200 hits infrastructure.
fn outcome(scenario: usize, variant: &str, step: &str, run: usize, release: usize, rng: &mut Rng) -> Outcome {
    let bug_step = variant == "reproduction" && (step.starts_with("probe/") || step.starts_with("build/"));
    let fixed = release % 3 == 2 && run >= 7_000;
    let flaky = scenario == 3 && step == "probe/hcs-layer" && rng.below(3) == 0;
    let (result, verdict, expected) = if rng.below(200) == 0 {
        (failed("rollout-timeout", rng), Verdict::InfraError, "ok")
    } else if bug_step && !(fixed || flaky) {
        (
            failed("bindflt-access-denied", rng),
            Verdict::Reproduced,
            "bindflt-access-denied",
        )
    } else if bug_step {
        (StepResult::Ok, Verdict::NoLongerReproduces, "bindflt-access-denied")
    } else {
        (StepResult::Ok, Verdict::Passed, "ok")
    };
    let mut outcome = template();
    outcome.case = format!("bug-{scenario:02}/buildkit=v0.28.0/variant={variant}");
    outcome.scenario = format!("bug-{scenario:02}");
    outcome.variant = variant.to_owned();
    outcome.step = step.to_owned();
    outcome.result = result;
    outcome.expected = Some(expected.to_owned());
    outcome.verdict = verdict;
    outcome.evidence = if run % 50 == 49 {
        Evidence::Simulated
    } else {
        Evidence::Real
    };
    outcome.observed = environment(release);
    outcome.duration_ms = Some(rng.below(60_000));
    outcome
}

/// An outcome with every field the generator does not set (built from JSON, so new optional fields keep defaults).
fn template() -> Outcome {
    serde_json::from_value(serde_json::json!({
        "case": "", "scenario": "", "lane": Lane::Cluster, "variant": "", "cell": {"buildkit": "v0.28.0"},
        "step": "", "result": "ok", "expected": null, "verdict": "passed", "evidence": "real",
    }))
    .expect("a valid outcome")
}

/// Records `runs` runs of 20 cases x 6 steps into `dir`; returns the bytes written.
fn generate(dir: &Path, runs: usize) -> std::io::Result<u64> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let start = std::time::UNIX_EPOCH + Duration::from_secs(1_735_689_600);
    let mut bytes = 0;
    for run in 0..runs {
        let release = run % 3;
        let mut outcomes = Vec::with_capacity(SCENARIOS * 12);
        for scenario in 0..SCENARIOS {
            for step in REPRODUCTION_STEPS {
                outcomes.push(outcome(scenario, "reproduction", step, run, release, &mut rng));
            }
            for step in WORKAROUND_STEPS {
                outcomes.push(outcome(scenario, "workaround", step, run, release, &mut rng));
            }
        }
        let meta = RunMeta {
            id: format!("run-{run:05}"),
            started: rfc3339_utc(start + Duration::from_secs(run as u64 * 2_880)),
            revision: Some(format!("{:040x}", run)),
            place: format!("k0s-{}", ["1-33", "1-34", "1-35"][release]),
            harness: "0.1.0".to_owned(),
        };
        let path = record(dir, &meta, &outcomes)?;
        bytes += std::fs::metadata(path)?.len();
    }
    Ok(bytes)
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

/// Times a command to completion, its output discarded; `None` when it cannot run.
fn time_command(command: &mut Command) -> Option<Duration> {
    let start = Instant::now();
    let status = command.stdout(Stdio::null()).stderr(Stdio::null()).status().ok()?;
    status.success().then(|| start.elapsed())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runs = std::env::args()
        .skip(1)
        .find_map(|a| a.parse::<usize>().ok())
        .unwrap_or(DEFAULT_RUNS);
    let dir = tempfile::tempdir()?;
    let generating = Instant::now();
    let bytes = generate(dir.path(), runs)?;
    println!(
        "history bench: {runs} runs x 20 cases x 6 steps ({} outcomes), {:.0} MB in {} files, written in {:.1} s",
        runs * 120,
        bytes as f64 / 1e6,
        runs,
        generating.elapsed().as_secs_f64()
    );
    let hwm_before = status_kb("VmHWM:");

    let mut times = Vec::new();
    let mut length = 0;
    for _ in 0..3 {
        let start = Instant::now();
        let history = harness::history::load(dir.path())?;
        let text = harness::history::render(&history, View::Cells, 30, false);
        times.push(start.elapsed());
        length = text.len();
    }
    let hwm_after = status_kb("VmHWM:");
    times.sort();
    let median = times[1];
    println!(
        "  report (in-process, load + Markdown): median {:.3} s, best {:.3} s; {length} bytes of Markdown",
        median.as_secs_f64(),
        times[0].as_secs_f64()
    );
    let history = harness::history::load(dir.path())?;
    for (name, view) in [
        ("--alerts", View::Alerts(Thresholds::default())),
        ("--upstream", View::Upstream),
    ] {
        let start = Instant::now();
        let text = harness::history::render(&history, view, 30, true);
        println!(
            "  render {name} --json on the loaded history: {:.3} s ({} bytes)",
            start.elapsed().as_secs_f64(),
            text.len()
        );
    }
    drop(history);
    println!(
        "  peak memory (VmHWM): {} before, {} after reporting",
        mb(hwm_before),
        mb(hwm_after)
    );

    let binary = env!("CARGO_BIN_EXE_harness");
    match time_command(Command::new(binary).arg("report").arg("--history").arg(dir.path())) {
        Some(time) => println!(
            "  `harness report --history DIR` (the binary): {:.3} s",
            time.as_secs_f64()
        ),
        None => println!("  `harness report --history DIR` (the binary): did not run"),
    }
    let mut files: Vec<_> = std::fs::read_dir(dir.path().join("runs"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    let filter = "reduce (inputs | select(.case)) as $o ({}; .[$o.case + \" \" + $o.lane + \" \" + $o.step] = $o.verdict) | length";
    match time_command(Command::new("jq").arg("-n").arg(filter).args(&files)) {
        Some(time) => println!(
            "  jq, the current verdict per cell only, over the same files: {:.3} s ({:.0}x the report's time)",
            time.as_secs_f64(),
            time.as_secs_f64() / median.as_secs_f64()
        ),
        None => println!("  jq: not available"),
    }
    let within = median < Duration::from_secs(2) && hwm_after.is_none_or(|kb| kb < 500 * 1024);
    println!(
        "  targets under 2 s and 500 MB: {}",
        if within { "met" } else { "MISSED" }
    );
    Ok(())
}
