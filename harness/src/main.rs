use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    harness::cli::Cli::parse().run().into()
}
