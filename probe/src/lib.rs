//! bindprobe: reproduces the Windows bind-filter and container-layer calls buildkitd makes, natively or inside a silo it creates.
//!
//! The pure parts (argument parsing, HRESULT decoding, Go path rules, command-line quoting, the JSON
//! report contract) build and are tested on every OS; every Windows call lives in `os::windows`, one
//! module per concern, and other platforms get a fallback that reports "bindprobe runs only on Windows".

pub mod args;
pub mod cmdline;
pub mod gopath;
pub mod hresult;
pub mod report;

mod os;

use args::Command;
use report::Report;

/// Runs a probing subcommand and returns its report (its `exit_code` is what bindprobe exits with).
/// `help` and `version` are handled by the binary and yield a usage report here.
pub fn run(command: &Command) -> Report {
    match command {
        Command::Bind(a) => os::bind(a),
        Command::Layer(a) => os::layer(a),
        Command::Context => os::context(),
        Command::InSilo(a) => os::in_silo(a),
        Command::Help | Command::Version => Report::usage(Some(command.name()), "not a probing command"),
    }
}
