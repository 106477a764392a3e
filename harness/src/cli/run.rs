//! `harness run [SCENARIOS...] [--lane L]`: plans and runs every case, writes `outcomes.jsonl`, exits by the verdicts.

use std::io::IsTerminal;
use std::path::PathBuf;

use crate::cli::{load_all, overrides};
use crate::exit::Exit;
use crate::lanes::{self, Context, Lane, cluster};
use crate::{outcome, plan, report};

/// Arguments of `harness run`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Scenario files or folders of them (default: `scenarios/`).
    paths: Vec<PathBuf>,
    /// Lanes to run (repeatable; default: all). A lane that cannot run here is reported as skipped, with the reason.
    #[arg(long = "lane", value_enum)]
    lanes: Vec<Lane>,
    /// Where to write outcomes.jsonl, junit.xml and summary.md.
    #[arg(long, default_value = "out")]
    out: PathBuf,
    /// Override a parameter, as `name=value` (repeatable).
    #[arg(long = "set", value_name = "NAME=VALUE")]
    set: Vec<String>,
    /// The kube context the cluster lane may act on (it must be allowed by the scenario).
    #[arg(long)]
    context: Option<String>,
    /// Labels everything the run creates (default: derived from the time).
    #[arg(long)]
    run_id: Option<String>,
}

pub fn run(args: Args) -> Exit {
    let scenarios = match load_all(&args.paths) {
        Ok(scenarios) => scenarios,
        Err(exit) => return exit,
    };
    let Ok(overrides) = overrides::parse("--set", &args.set) else {
        return Exit::InvalidInput;
    };
    let lanes: Vec<Lane> = if args.lanes.is_empty() {
        Lane::ALL.to_vec()
    } else {
        args.lanes.clone()
    };
    let run_id = args.run_id.unwrap_or_else(default_run_id);
    let context = Context {
        run_id,
        overrides,
        kube_context: args.context,
    };
    let planned = plan::plan(&scenarios, &lanes, &context);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return Exit::Infrastructure;
        }
    };
    let progress = std::io::stderr().is_terminal() && std::env::var_os("CI").is_none();
    let mut outcomes = Vec::new();
    let interrupted = runtime.block_on(async {
        for planned in &planned {
            let found = tokio::select! {
                found = lanes::run(&planned.case, &context) => found,
                _ = tokio::signal::ctrl_c() => return true,
            };
            if progress {
                for o in &found {
                    eprintln!("{} {} {}: {}", o.verdict.as_str(), o.lane, o.case, o.step);
                }
            }
            outcomes.extend(found);
        }
        false
    });
    if interrupted {
        // The case in flight was dropped where it stood: remove everything this run made, by its label.
        eprintln!("interrupted: tearing down what run {} made", context.run_id);
        if let Some(name) = &context.kube_context {
            match runtime.block_on(cluster::janitor(name, Some(&context.run_id))) {
                Ok(removed) => eprintln!("removed namespaces: {}", removed.join(", ")),
                Err(e) => eprintln!("error: teardown after the interruption failed: {e}"),
            }
        }
    }
    match report::write_all(&args.out, &outcomes) {
        Ok(paths) => {
            print!("{}", report::summary(&outcomes));
            for path in paths {
                println!("wrote {}", path.display());
            }
        }
        Err(e) => {
            eprintln!("error: cannot write the reports into {}: {e}", args.out.display());
            return Exit::Infrastructure;
        }
    }
    if interrupted {
        Exit::Interrupted
    } else {
        outcome::exit_for(&outcomes)
    }
}

fn default_run_id() -> String {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format!("run-{seconds}")
}
