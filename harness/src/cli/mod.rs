//! The `harness` command line: one module per subcommand, each turning its arguments into an [`Exit`].

mod classify;

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
}

impl Cli {
    /// Runs the chosen subcommand.
    pub fn run(self) -> Exit {
        match self.command {
            Command::Classify(args) => classify::run(args),
        }
    }
}
