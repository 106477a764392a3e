//! Benchmark: validating 1,000 generated scenario files, in-process and as one `harness validate` command, and the
//! latency of an offline command on one file. Run with `cargo bench --bench validate`.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const FILES: usize = 1_000;

fn main() {
    let repository = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let seed = std::fs::read_to_string(repository.join("scenarios/buildkit-6590.yaml")).unwrap();
    let scratch = tempfile::tempdir().unwrap();
    copy_fixtures(repository, scratch.path());
    let folder = scratch.path().join("scenarios");
    std::fs::create_dir_all(&folder).unwrap();
    for i in 0..FILES {
        // Each file its own name and matrix, so nothing is shared between them but the fixtures.
        let text = seed
            .replace("name: buildkit-6590", &format!("name: generated-{i:04}"))
            .replace("buildkit: [v0.28.0]", &format!("buildkit: [v0.28.0, v0.27.{}]", i % 10));
        std::fs::write(folder.join(format!("generated-{i:04}.yaml")), text).unwrap();
    }

    let files = harness_files(&folder);
    let started = Instant::now();
    for file in &files {
        harness::scenario::load(file).expect("generated scenarios are valid");
    }
    let in_process = started.elapsed();

    let binary = env!("CARGO_BIN_EXE_harness");
    let started = Instant::now();
    let status = Command::new(binary)
        .arg("validate")
        .arg(&folder)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    let whole_command = started.elapsed();
    assert!(status.success());

    let one = folder.join("generated-0000.yaml");
    let mut latencies: Vec<Duration> = (0..30)
        .map(|_| {
            let started = Instant::now();
            let status = Command::new(binary)
                .arg("validate")
                .arg(&one)
                .stdout(std::process::Stdio::null())
                .status()
                .unwrap();
            assert!(status.success());
            started.elapsed()
        })
        .collect();
    latencies.sort();

    println!(
        "validate {FILES} files in-process:      {:>8.1} ms ({:.0} us per file)",
        ms(in_process),
        in_process.as_secs_f64() * 1e6 / FILES as f64
    );
    println!(
        "`harness validate` on {FILES} files:    {:>8.1} ms (target < 1000 ms)",
        ms(whole_command)
    );
    println!(
        "`harness validate` on one file, median: {:>8.1} ms, max {:.1} ms over 30 runs (target < 50 ms)",
        ms(latencies[15]),
        ms(latencies[29])
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn harness_files(folder: &Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(folder).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files
}

fn copy_fixtures(from: &Path, to: &Path) {
    for sub in [
        "fixtures/daemonsets",
        "fixtures/builds/hello-servercore",
        "fixtures/builds/hello-linux",
    ] {
        std::fs::create_dir_all(to.join(sub)).unwrap();
        for entry in std::fs::read_dir(from.join(sub)).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), to.join(sub).join(entry.file_name())).unwrap();
        }
    }
}
