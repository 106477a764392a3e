//! `harness janitor --context NAME [--run-id ID]`: removes what earlier runs left on a cluster, found by label.

use crate::exit::Exit;
use crate::lanes::cluster;

/// Arguments of `harness janitor`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The kube context to clean (from KUBECONFIG); only namespaces labelled as made by the harness are deleted.
    #[arg(long)]
    context: String,
    /// Only what this run made.
    #[arg(long)]
    run_id: Option<String>,
}

pub fn run(args: Args) -> Exit {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return Exit::Infrastructure;
        }
    };
    match runtime.block_on(cluster::janitor(&args.context, args.run_id.as_deref())) {
        Ok(removed) if removed.is_empty() => {
            println!("nothing left by the harness on {}", args.context);
            Exit::Ok
        }
        Ok(removed) => {
            for name in removed {
                println!("removed namespace {name}");
            }
            Exit::Ok
        }
        Err(e) => {
            eprintln!("error: {e}");
            Exit::Infrastructure
        }
    }
}
