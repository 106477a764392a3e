//! `harness plan [SCENARIOS...]`: every case on every lane, and why the lanes that cannot run here do not.

use std::path::PathBuf;

use crate::cli::{checked_context, load_all};
use crate::exit::Exit;
use crate::lanes::Context;
use crate::plan;
use crate::words::Lane;

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
    let cluster = match &args.context {
        Some(name) => match checked_context(name, &scenarios, std::time::Duration::from_secs(30)) {
            Ok(target) => Some(target),
            Err(exit) => return exit,
        },
        None => None,
    };
    let context = Context {
        cluster,
        ..Context::default()
    };
    let planned = plan::plan(&scenarios, Lane::ALL, &context);
    let runs = planned.iter().filter(|p| p.skip.is_none()).count();
    for p in &planned {
        match &p.skip {
            None => outln!("run   {:<8} {}", p.case.lane, p.case.name()),
            Some(reason) => outln!("skip  {:<8} {}: {reason}", p.case.lane, p.case.name()),
        }
    }
    outln!(
        "{} case(s) x lane(s): {runs} run here, {} skipped",
        planned.len(),
        planned.len() - runs
    );
    let has_cluster_cases = planned
        .iter()
        .any(|p| p.case.lane == Lane::Cluster && p.case.loaded.scenario.cluster.distribution.has_cluster());
    if args.context.is_none()
        && has_cluster_cases
        && let Some(state) = crate::cli::testbed::Lent::would_borrow()
    {
        let brings = if state == "up" {
            "uses it as it is"
        } else {
            "brings it up for the run and down after"
        };
        outln!(
            "without --context, `harness run` runs the cluster cases on the local test bed (now {state}; it {brings}); `--no-testbed` skips them"
        );
    }
    Exit::Ok
}
