//! `harness plan [SCENARIOS...]`: every case on every lane, and why the lanes that cannot run here do not.

use std::path::PathBuf;

use crate::cli::load_all;
use crate::exit::Exit;
use crate::lanes::{Context, Lane};
use crate::plan;

/// Arguments of `harness plan`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Scenario files or folders of them (default: `scenarios/`).
    paths: Vec<PathBuf>,
    /// The kube context the cluster lane would act on.
    #[arg(long)]
    context: Option<String>,
}

pub fn run(args: Args) -> Exit {
    let scenarios = match load_all(&args.paths) {
        Ok(scenarios) => scenarios,
        Err(exit) => return exit,
    };
    let context = Context {
        kube_context: args.context,
        ..Context::default()
    };
    let planned = plan::plan(&scenarios, Lane::ALL, &context);
    let runs = planned.iter().filter(|p| p.skip.is_none()).count();
    for p in &planned {
        match &p.skip {
            None => println!("run   {:<8} {}", p.case.lane, p.case.name()),
            Some(reason) => println!("skip  {:<8} {}: {reason}", p.case.lane, p.case.name()),
        }
    }
    println!(
        "{} case(s) x lane(s): {runs} run here, {} skipped",
        planned.len(),
        planned.len() - runs
    );
    Exit::Ok
}
