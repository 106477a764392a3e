//! `harness janitor --context NAME [--run-id ID] [SCENARIOS...]`: removes what earlier runs left on a cluster (its
//! namespaces, by the harness's run label) and on its Windows nodes (marked services, run folders), on a context a
//! scenario allows or on the harness's test bed only.

use std::path::PathBuf;

use crate::cli::{checked_context, load_all};
use crate::exit::Exit;
use crate::lanes::cluster;

/// Arguments of `harness janitor`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The scenarios whose allowed contexts the janitor may clean (default: `scenarios/`).
    paths: Vec<PathBuf>,
    /// The kube context to clean (from KUBECONFIG): allowed by a scenario, or the harness's test bed.
    #[arg(long)]
    context: String,
    /// Only what this run made.
    #[arg(long)]
    run_id: Option<String>,
    /// Leave the nodes alone: only delete the harness's namespaces and cluster-wide objects (no pod is started on any node).
    #[arg(long)]
    namespaces_only: bool,
}

pub fn run(args: Args) -> Exit {
    if let Some(run_id) = &args.run_id
        && let Err(message) = crate::cli::run::check_run_id(run_id)
    {
        errln!("error: --run-id `{run_id}` {message}\n  help: use lower-case letters, digits and dashes");
        return Exit::InvalidInput;
    }
    let scenarios = match load_all(&args.paths) {
        Ok(scenarios) => scenarios,
        Err(exit) => return exit,
    };
    let target = match checked_context(&args.context, &scenarios, std::time::Duration::from_secs(30)) {
        Ok(target) => target,
        Err(exit) => return exit,
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            errln!("error: cannot start the async runtime: {e}");
            return Exit::Infrastructure;
        }
    };
    let run_id = args.run_id.as_deref();
    let cleaned = runtime.block_on(async {
        let mut namespaces = cluster::janitor::namespaces(&target, run_id).await?;
        namespaces.extend(cluster::janitor::cluster_objects(&target, &scenarios, run_id).await?);
        let nodes = match args.namespaces_only {
            true => Vec::new(),
            false => cluster::janitor::nodes(&target, &scenarios, run_id).await?,
        };
        Ok::<_, String>((namespaces, nodes))
    });
    match cleaned {
        Ok((namespaces, nodes)) if namespaces.is_empty() && nodes.is_empty() => {
            outln!("nothing left by the harness on {}", args.context);
            Exit::Ok
        }
        Ok((namespaces, nodes)) => {
            for name in namespaces {
                match name.split_once('/') {
                    Some(_) => outln!("removed {name}"),
                    None => outln!("removed namespace {name}"),
                }
            }
            for line in nodes {
                outln!("{line}");
            }
            Exit::Ok
        }
        Err(e) => {
            errln!("error: {e}");
            Exit::Infrastructure
        }
    }
}
