//! The `harness` command line: one module per subcommand, each turning its arguments into an [`Exit`].

mod classify;
mod discover;
mod janitor;
mod overrides;
mod plan;
mod render;
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
    /// Remove what earlier runs left on a cluster: namespaces labelled as made by the harness (by run id, or all).
    Janitor(janitor::Args),
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
        }
    }
}

/// Prints a scenario's problems, each with its place and hint, and exits 2.
fn invalid(error: crate::scenario::Error) -> Exit {
    eprintln!("{}", error.render());
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
                eprintln!("{}", error.render());
            }
        }
    }
    if failed { Err(Exit::InvalidInput) } else { Ok(loaded) }
}
