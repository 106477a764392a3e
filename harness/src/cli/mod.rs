//! The `harness` command line: one module per subcommand, each turning its arguments into an [`Exit`].

/// `print!` that never panics: when stdout is gone (a closed pipe), the text is dropped and the command goes on, so a
/// run piped into `head` still tears down and writes its reports. Text is shown with control characters escaped.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), "{}", crate::redact::printable(&format!($($arg)*)));
    }};
}

/// `println!` that never panics (see [`out!`]).
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), "{}", crate::redact::printable(&format!($($arg)*)));
    }};
}

/// `eprintln!` that never panics, with secrets redacted and control characters escaped.
macro_rules! errln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let text = format!($($arg)*);
        let _ = writeln!(std::io::stderr(), "{}", crate::redact::printable(&crate::redact::secrets(&text)));
    }};
}

/// Prints a rendered diagnostic to stderr as it is (its colours kept; the scenario text in it was made printable when
/// the problem was found), never panicking.
macro_rules! diagln {
    ($text:expr) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), "{}", $text);
    }};
}

mod accept;
mod classify;
mod discover;
mod janitor;
mod overrides;
mod plan;
mod render;
mod report;
mod run;
mod testbed;
mod validate;

use clap::{Parser, Subcommand};

use crate::exit::Exit;

/// End-to-end harness for Windows workloads on Kubernetes.
#[derive(Debug, Parser)]
#[command(
    name = "harness",
    version,
    about,
    long_about = None,
    after_help = "Exit codes: 0 every verdict as expected, 1 a verdict differs, 2 invalid input or usage, \
                  3 infrastructure could not run what was asked, 130 interrupted.\n\
                  Start with `harness validate scenarios/`, then `harness plan` and `harness run`; the format is in docs/scenario.md."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Classify raw failure text (buildctl, buildkitd, containerd, kubelet, probe output) into an outcome class.
    Classify(classify::Args),
    /// Load and check scenario files offline; every problem is shown with its file, line and column.
    Validate(validate::Args),
    /// Print the exact manifests a case applies (namespace and DaemonSet), as YAML.
    Render(render::Args),
    /// Show every case on every lane, and why the lanes that cannot run here do not.
    Plan(plan::Args),
    /// Run cases on their lanes, write outcomes.jsonl, and exit by the verdicts (0 as expected, 1 differs, 3 infrastructure).
    Run(run::Args),
    /// Bring the local test bed up or down, or show its status (kubeconfig and context).
    Testbed(testbed::Args),
    /// Take a run's outcomes as the accepted ones, beside each scenario (what changes is shown; simulated evidence of
    /// a real lane is refused).
    Accept(accept::Args),
    /// Remove what earlier runs left on a cluster: namespaces labelled as made by the harness (by run id, or all).
    Janitor(janitor::Args),
    /// Report a history of runs: what changed, since when, on which versions (`--alerts`, `--upstream` for workflows).
    Report(report::Args),
}

impl Cli {
    /// Runs the chosen subcommand.
    pub fn run(self) -> Exit {
        match self.command {
            Command::Classify(args) => classify::run(args),
            Command::Validate(args) => validate::run(args),
            Command::Render(args) => render::run(args),
            Command::Plan(args) => plan::run(args),
            Command::Run(args) => run::run(args),
            Command::Testbed(args) => testbed::run(args),
            Command::Janitor(args) => janitor::run(args),
            Command::Report(args) => report::run(args),
            Command::Accept(args) => accept::run(args),
        }
    }
}

/// Prints a scenario's problems, each with its place and hint, and exits 2.
fn invalid(error: crate::scenario::Error) -> Exit {
    diagln!(error.render());
    Exit::InvalidInput
}

/// Loads every scenario named by `paths`; on any problem prints them all and exits 2 (a name used twice is one).
fn load_all(paths: &[std::path::PathBuf]) -> Result<Vec<std::sync::Arc<crate::scenario::Loaded>>, Exit> {
    let files = discover::scenario_files(paths)?;
    let mut loaded = Vec::new();
    let mut failed = false;
    for result in crate::scenario::load_many(&files) {
        match result {
            Ok(scenario) => loaded.push(scenario),
            Err(error) => {
                failed = true;
                diagln!(error.render());
            }
        }
    }
    if failed { Err(Exit::InvalidInput) } else { Ok(loaded) }
}

/// Checks `--context NAME` before anything runs (it must be in the kubeconfig, and allowed by one of `scenarios` or be
/// the harness's test bed); on failure prints why and returns the exit code (2 for usage, 3 for infrastructure).
fn checked_context(
    name: &str,
    scenarios: &[std::sync::Arc<crate::scenario::Loaded>],
    timeout: std::time::Duration,
) -> Result<crate::lanes::cluster::Target, Exit> {
    let allowed = allowed_contexts(scenarios);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            errln!("error: cannot start the async runtime: {e}");
            Exit::Infrastructure
        })?;
    runtime
        .block_on(crate::lanes::cluster::check(name, &allowed, timeout))
        .map_err(|e| {
            errln!("error: {e}\n  help: {}", e.help());
            e.exit()
        })
}

/// Every kube context some scenario allows.
fn allowed_contexts(scenarios: &[std::sync::Arc<crate::scenario::Loaded>]) -> Vec<String> {
    let mut allowed: Vec<String> = scenarios
        .iter()
        .flat_map(|s| s.scenario.cluster.contexts.iter().cloned())
        .collect();
    allowed.sort();
    allowed.dedup();
    allowed
}
