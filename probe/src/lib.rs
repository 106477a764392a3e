//! bindprobe: reproduces the Windows bind-filter and container-layer calls buildkitd makes, natively or inside a silo it creates.
//!
//! The pure parts (argument parsing, HRESULT decoding, Go path rules, command-line quoting, the JSON
//! report contract) build and are tested on every OS; every Windows call lives in `os::windows`, one
//! module per concern, and other platforms get a fallback that reports "bindprobe runs only on Windows".

pub mod args;
pub mod cmdline;
pub mod gopath;
pub mod hostprocess;
pub mod hresult;
pub mod report;
pub mod task;

mod os;

use args::Command;
use report::Report;

/// Runs a probing subcommand and returns its report (its `exit_code` is what bindprobe exits with), with the
/// options it ran with. `help` and `version` are handled by the binary and yield a usage report here.
pub fn run(command: &Command) -> Report {
    let mut report = match command {
        Command::Bind(a) => os::bind(a),
        Command::Layer(a) => os::layer(a),
        Command::Context => os::context(),
        Command::InSilo(a) => os::in_silo(a),
        Command::AsSystem(a) => os::as_system(a),
        Command::Help | Command::Version => return Report::usage(Some(command.name()), "not a probing command"),
    };
    report.options = hostprocess::options(command);
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_report_says_which_options_it_ran_with() {
        let bind = run(&args::parse(["bind", "a", "b", "--rw"]).unwrap().command);
        assert_eq!(bind.options.as_ref().and_then(|o| o.read_only), Some(false));
        let silo = run(&args::parse(["in-silo", "--no-cmd", "--", "x"]).unwrap().command);
        let o = silo.options.unwrap();
        assert_eq!(o.departures, ["--token inherit", "--no-cmd"]);
        let json: serde_json::Value = serde_json::from_str(&run(&Command::Context).to_json()).unwrap();
        assert!(json.get("options").is_none());
        let system = run(&args::parse(["as-system", "--", "context"]).unwrap().command);
        assert_eq!(system.options.unwrap().as_system_args, Some(vec!["context".to_owned()]));
    }
}
