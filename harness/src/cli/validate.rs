//! `harness validate [PATHS...]`: loads and checks scenario files offline; every problem is printed with its place.

use std::path::PathBuf;

use crate::cli::discover;
use crate::exit::Exit;
use crate::scenario;

/// Arguments of `harness validate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Scenario files or folders of them (default: `scenarios/`).
    paths: Vec<PathBuf>,
}

pub fn run(args: Args) -> Exit {
    let files = match discover::scenario_files(&args.paths) {
        Ok(files) => files,
        Err(exit) => return exit,
    };
    let mut invalid = 0;
    for (file, result) in files.iter().zip(scenario::load_many(&files)) {
        match result {
            Ok(_) => outln!("ok {}", file.display()),
            Err(error) => {
                invalid += 1;
                diagln!(error.render());
            }
        }
    }
    if invalid > 0 {
        errln!("{invalid} of {} scenario file(s) invalid", files.len());
        Exit::InvalidInput
    } else {
        Exit::Ok
    }
}
