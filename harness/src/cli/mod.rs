//! The `harness` command line: one module per subcommand, each turning its arguments into an [`Exit`].

mod classify;
mod discover;
mod overrides;
mod render;
mod validate;

use clap::{Parser, Subcommand};

use crate::exit::Exit;

/// End-to-end harness for Windows workloads on Kubernetes.
#[derive(Debug, Parser)]
#[command(name = "harness", version, about, long_about = None)]
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
}

impl Cli {
    /// Runs the chosen subcommand.
    pub fn run(self) -> Exit {
        match self.command {
            Command::Classify(args) => classify::run(args),
            Command::Validate(args) => validate::run(args),
            Command::Render(args) => render::run(args),
        }
    }
}

/// Prints a scenario's problems, each with its place and hint, and exits 2.
fn invalid(error: crate::scenario::Error) -> Exit {
    eprintln!("{}", error.render());
    Exit::InvalidInput
}
