//! `harness run [SCENARIOS...] [--lane L]`: plans and runs every case, writes `outcomes.jsonl`, exits by the verdicts.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::StreamExt;

use crate::accepted;
use crate::cli::{allowed_contexts, load_all, overrides, testbed};
use crate::exit::Exit;
use crate::history;
use crate::judge::judge_against;
use crate::lanes::{self, Context, cluster};
use crate::words::Lane;
use crate::{outcome, plan, report};

/// Arguments of `harness run`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Scenario files or folders of them (default: `scenarios/`).
    paths: Vec<PathBuf>,
    /// Lanes to run (repeatable, or comma-separated; default: all). A lane that cannot run here is reported as
    /// skipped, with the reason.
    #[arg(long = "lane", value_enum, value_delimiter = ',')]
    lanes: Vec<Lane>,
    /// Where to write outcomes.jsonl, junit.xml and summary.md.
    #[arg(long, default_value = "out")]
    out: PathBuf,
    /// Override a parameter, as `name=value` (repeatable).
    #[arg(long = "set", value_name = "NAME=VALUE")]
    set: Vec<String>,
    /// The kube context the cluster lane may act on (it must be allowed by a scenario, or be the harness's test bed).
    /// Without it, the local test bed is used when this repository has it built (brought up for the run, and down
    /// again after, when it was down).
    #[arg(long)]
    context: Option<String>,
    /// Without `--context`, leave the local test bed alone: the cluster lane is skipped, with the reason.
    #[arg(long, conflicts_with = "context")]
    no_testbed: bool,
    /// Labels everything the run creates (default: derived from the time); lower-case letters, digits and dashes.
    #[arg(long)]
    run_id: Option<String>,
    /// Record the run into this history folder (one file per run; `harness report --history DIR` reads it), and draw
    /// each cell's history in report.html.
    #[arg(long, value_name = "DIR")]
    history: Option<PathBuf>,
    /// Hold the run against the accepted outcomes beside each scenario too: a step whose result moved is `changed`.
    #[arg(long)]
    check: bool,
    /// A lane that must run (repeatable, or comma-separated): the run exits 3 when it ran nothing here (every step
    /// skipped).
    #[arg(long = "require", value_enum, value_name = "LANE", value_delimiter = ',')]
    require: Vec<Lane>,
    /// The Windows bindprobe.exe the cluster lane copies onto the node for its probes (default: `BINDPROBE`, else the
    /// MinGW or MSVC release build in the target folder; without one, the image's own `bindprobe.exe` runs).
    #[arg(long, value_name = "PATH")]
    probe: Option<PathBuf>,
    /// How many cases run at once (1 to 64). Cluster cases on the same nodes still wait for each other unless their
    /// scenario says `parallel: true`; host-lane cases run one at a time.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    jobs: u16,
    /// Run only shard K of N (`K/N`, 1 <= K <= N): every Nth planned case, the same split for the same scenarios,
    /// for CI matrices.
    #[arg(long, value_name = "K/N", value_parser = shard)]
    shard: Option<(usize, usize)>,
    /// The longest one Kubernetes API request may take, e.g. `30s` (1s to 10m).
    #[arg(long, default_value = "30s", value_parser = request_timeout)]
    request_timeout: Duration,
}

pub fn run(args: Args) -> Exit {
    let scenarios = match load_all(&args.paths) {
        Ok(scenarios) => scenarios,
        Err(exit) => return exit,
    };
    let Ok(overrides) = overrides::parse("--set", &args.set) else {
        return Exit::InvalidInput;
    };
    if let Err(message) = overrides::check_parameters(&overrides, &scenarios) {
        errln!("error: {message}");
        return Exit::InvalidInput;
    }
    let run_id = args.run_id.unwrap_or_else(default_run_id);
    if let Err(message) = check_run_id(&run_id) {
        errln!(
            "error: --run-id `{run_id}` {message}\n  help: use lower-case letters, digits and dashes, e.g. nightly-42"
        );
        return Exit::InvalidInput;
    }
    if let Err(message) = report::prepare(&args.out) {
        errln!(
            "error: --out {}: {message}\n  help: give a folder (it is created if missing)",
            args.out.display()
        );
        return Exit::InvalidInput;
    }
    // Each lane once, the fast ones first.
    let mut lanes: Vec<Lane> = if args.lanes.is_empty() {
        Lane::ALL.to_vec()
    } else {
        args.lanes.clone()
    };
    lanes.sort();
    lanes.dedup();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            errln!("error: cannot start the async runtime: {e}");
            return Exit::Infrastructure;
        }
    };
    // Signals are caught from here on: an interruption stops between steps, tears down and still writes reports.
    let interrupted = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(tokio::sync::Notify::new());
    runtime.spawn(on_signal(interrupted.clone(), stop.clone()));

    // No `--context`: the cluster lane runs on the local test bed when this repository has it built. Dropped when the
    // run returns, it goes down again if the run brought it up.
    let lent = match (&args.context, lanes.contains(&Lane::Cluster) && !args.no_testbed) {
        (None, true) => testbed::Lent::borrow().unwrap_or_else(|e| {
            errln!("warning: {e}\n  help: the cluster lane runs only where --context names a context");
            None
        }),
        _ => None,
    };
    if let Some(lent) = &lent {
        errln!(
            "the cluster lane runs on the local test bed (context {}; its Windows node is simulated): no --context was given",
            lent.context
        );
    }
    // The kube contexts of the run: `--context` (or the lent test bed's), and every context a scenario maps cells
    // to (`cluster.cells`).
    let first = args
        .context
        .clone()
        .or_else(|| lent.as_ref().map(|l| l.context.clone()));
    let mut names: Vec<String> = first.iter().cloned().collect();
    for loaded in &scenarios {
        for name in loaded.scenario.cluster.cells.values() {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
    }
    let mut targets = Vec::new();
    let mut unusable = std::collections::BTreeMap::new();
    if lanes.contains(&Lane::Cluster) {
        let allowed = allowed_contexts(&scenarios);
        for (i, name) in names.iter().enumerate() {
            let given = i == 0 && first.is_some();
            let kubeconfig = lent.as_ref().filter(|_| given).map(|l| l.kubeconfig.clone());
            let checked = runtime.block_on(async {
                tokio::select! {
                    checked = cluster::check_in(kubeconfig, name, &allowed, args.request_timeout) => Some(checked),
                    _ = stop.notified() => None,
                }
            });
            targets.push(match checked {
                Some(Ok(target)) => target,
                // A context only `cluster.cells` names that this machine does not have (no kubeconfig, not in it, not
                // allowed): its cells are skipped with the reason, as a cluster lane without `--context` is.
                Some(Err(e)) if !given && !matches!(e, cluster::ContextError::Api(_)) => {
                    unusable.insert(name.clone(), e.to_string());
                    continue;
                }
                // The cluster could not be looked at: every cluster case says so in the reports, and the run exits 3.
                Some(Err(e)) if e.exit() == Exit::Infrastructure => {
                    errln!("error: {e}\n  help: {}", e.help());
                    cluster::Target::broken(name, args.request_timeout, e.to_string())
                }
                Some(Err(e)) => {
                    errln!("error: {e}\n  help: {}", e.help());
                    return e.exit();
                }
                None => return Exit::Interrupted,
            });
        }
    }
    let cluster = match first {
        Some(_) if !targets.is_empty() => Some(targets.remove(0)),
        _ => None,
    };
    let mapped = targets;
    let probe = match &args.probe {
        Some(path) => match cluster::Probe::read(path) {
            Ok(probe) => Ok(probe),
            Err(message) => {
                errln!("error: --probe: {message}\n  help: give the path of a Windows bindprobe.exe");
                return Exit::InvalidInput;
            }
        },
        None if (cluster.is_some() || !mapped.is_empty())
            && scenarios.iter().any(|s| !s.scenario.probes.is_empty()) =>
        {
            cluster::Probe::find()
        }
        None => Err("the cluster lane does not run here".to_owned()),
    };
    let context = Context {
        probe: lanes::Delivery(probe),
        run_id,
        overrides,
        cluster,
        mapped,
        unusable,
        out: Some(args.out.clone()),
        nodes: cluster::Nodes::default(),
        touched_nodes: Arc::default(),
        host: Arc::default(),
    };
    let accepted = match args.check.then(|| accepted_outcomes(&scenarios)).transpose() {
        Ok(accepted) => accepted.unwrap_or_default(),
        Err(message) => {
            errln!("error: {message}");
            return Exit::InvalidInput;
        }
    };
    let place = context.targets().next().map_or("local".to_owned(), |t| t.name.clone());
    let revision = scenarios.first().and_then(|s| history::git_revision(&s.root));
    let meta = history::RunMeta::starting_now(context.run_id.clone(), revision, place);
    let mut planned = plan::plan(&scenarios, &lanes, &context);
    if let Some((k, n)) = args.shard {
        let total = planned.len();
        planned = planned.into_iter().skip(k - 1).step_by(n).collect();
        errln!("shard {k}/{n}: {} of {total} planned case(s)", planned.len());
    }
    if planned.len() > crate::scenario::load::limits::MAX_PLANNED {
        errln!(
            "error: this run plans {} cases x lanes; at most {} are allowed\n  help: run fewer scenarios or lanes at once",
            planned.len(),
            crate::scenario::load::limits::MAX_PLANNED
        );
        return Exit::InvalidInput;
    }
    let progress = std::io::stderr().is_terminal() && std::env::var_os("CI").is_none();
    let mut reporters = match report::Reporters::for_run(&args.out, progress) {
        Ok(reporters) => reporters,
        Err(e) => {
            errln!("error: cannot write the reports into {}: {e}", args.out.display());
            return Exit::Infrastructure;
        }
    };
    let mut outcomes = Vec::new();
    let mut report_error = None;
    runtime.block_on(async {
        // Up to `--jobs` cases at once; their outcomes are judged and reported in plan order.
        let context = &context;
        let running = futures::stream::iter(&planned)
            .map(|planned| async move { (planned, lanes::run(&planned.case, context).await) })
            .buffered(usize::from(args.jobs));
        let mut running = std::pin::pin!(running);
        loop {
            if interrupted.load(Ordering::SeqCst) {
                break;
            }
            let next = tokio::select! {
                next = running.next() => next,
                _ = stop.notified() => break,
            };
            let Some((planned, found)) = next else { break };
            for observation in found {
                let key = (planned.case.lane, planned.case.name(), observation.step.clone());
                let outcome = judge_against(&planned.case, observation, accepted.get(&key));
                if let Err(e) = reporters.outcome(&outcome) {
                    report_error.get_or_insert(e);
                }
                outcomes.push(outcome);
            }
        }
    });
    let interrupted = interrupted.load(Ordering::SeqCst);
    let mut teardown_failed = false;
    if interrupted {
        // The case in flight was dropped where it stood: remove what this run made, by the uids it recorded.
        errln!("interrupted: tearing down what run {} made", context.run_id);
        match runtime.block_on(lanes::clean_up(&context, &scenarios)) {
            Ok(removed) if removed.is_empty() => {}
            Ok(removed) => errln!("removed: {}", removed.join(", ")),
            Err(e) => {
                teardown_failed = true;
                errln!("error: teardown after the interruption failed: {e}");
            }
        }
    }
    match report_error.map_or_else(|| reporters.finish(&outcomes), Err) {
        Ok(paths) => {
            out!("{}", report::summary(&outcomes));
            for path in paths {
                outln!("wrote {}", path.display());
            }
        }
        Err(e) => {
            errln!("error: cannot write the reports into {}: {e}", args.out.display());
            return Exit::Infrastructure;
        }
    }
    // An interrupted run is not a run of the history: what it did not get to would read as a change.
    if let (Some(dir), false) = (&args.history, interrupted) {
        match record_history(dir, &meta, &outcomes, &args.out) {
            Ok(path) => outln!("recorded {}", path.display()),
            Err(e) => {
                errln!("error: cannot record the run into {}: {e}", dir.display());
                return Exit::Infrastructure;
            }
        }
    }
    let missing = lanes_that_ran_nothing(&args.require, &outcomes);
    if !missing.is_empty() {
        errln!(
            "error: required lane(s) ran nothing here: {}\n  help: the skip reasons are in the summary above",
            missing.join(", ")
        );
    }
    match (interrupted, teardown_failed) {
        (true, false) => Exit::Interrupted,
        (true, true) => Exit::Infrastructure,
        _ if !missing.is_empty() => Exit::Infrastructure,
        _ => match &lent {
            Some(lent) => exit_on_lent_test_bed(&outcomes, &lent.context),
            None => outcome::exit_for(&outcomes),
        },
    }
}

/// The exit code of a run on the test bed it borrowed (no `--context`): a verdict that differs on simulated evidence
/// only is named but not counted, since the simulated node shows only what its doubles simulate; the run says so.
fn exit_on_lent_test_bed(outcomes: &[outcome::Outcome], context: &str) -> Exit {
    let (simulated, counted): (Vec<&outcome::Outcome>, Vec<&outcome::Outcome>) = outcomes
        .iter()
        .partition(|o| o.evidence == outcome::Evidence::Simulated && o.verdict.differs());
    if !simulated.is_empty() {
        let steps: Vec<String> = simulated
            .iter()
            .map(|o| format!("{} {} ({})", o.case, o.step, o.verdict.as_str()))
            .collect();
        errln!(
            "note: {} verdict(s) differ on the test bed's simulated node only, and are not counted in the exit code: {}\n  help: a simulated node shows only what its doubles simulate; give --context {context} to count them",
            simulated.len(),
            steps.join("; ")
        );
    }
    outcome::exit_for(counted)
}

/// Records the run into the history at `dir`, then redraws `out/report.html` with each cell's history strip.
fn record_history(
    dir: &std::path::Path,
    meta: &history::RunMeta,
    outcomes: &[outcome::Outcome],
    out: &std::path::Path,
) -> Result<PathBuf, String> {
    let path = history::record(dir, meta, outcomes).map_err(|e| e.to_string())?;
    let recorded = history::load(dir).map_err(|e| e.to_string())?;
    let strips = history::strips(&recorded, history::DEFAULT_WINDOW);
    report::write_html_with_history(out, outcomes, &strips).map_err(|e| e.to_string())?;
    Ok(path)
}

/// Every scenario's accepted outcomes, by key; a file that does not read is an error naming its line.
fn accepted_outcomes(scenarios: &[Arc<crate::scenario::Loaded>]) -> Result<accepted::Accepted, String> {
    let mut all = accepted::Accepted::new();
    for loaded in scenarios {
        all.extend(accepted::load(&accepted::path_for(&loaded.path))?);
    }
    Ok(all)
}

/// The required lanes of which no step ran (none observed, or every one skipped).
fn lanes_that_ran_nothing(required: &[Lane], outcomes: &[outcome::Outcome]) -> Vec<String> {
    required
        .iter()
        .filter(|lane| !outcome::lane_ran(outcomes, **lane))
        .map(|lane| lane.to_string())
        .collect()
}

/// Waits for SIGINT (Ctrl-C) or, on Unix, SIGTERM; then marks the run interrupted and wakes it.
async fn on_signal(interrupted: Arc<AtomicBool>, stop: Arc<tokio::sync::Notify>) {
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate => {}
    }
    interrupted.store(true, Ordering::SeqCst);
    stop.notify_waiters();
    stop.notify_one();
}

/// A run id is a label value and part of names: lower-case letters, digits and dashes, at most 40.
pub fn check_run_id(run_id: &str) -> Result<(), String> {
    let ok = !run_id.is_empty()
        && run_id.len() <= 40
        && run_id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !run_id.starts_with('-')
        && !run_id.ends_with('-');
    if ok { Ok(()) } else { Err("is not a run id".to_owned()) }
}

/// `K/N` with 1 <= K <= N <= 1000.
fn shard(value: &str) -> Result<(usize, usize), String> {
    let parsed = value
        .split_once('/')
        .and_then(|(k, n)| Some((k.trim().parse::<usize>().ok()?, n.trim().parse::<usize>().ok()?)));
    match parsed {
        Some((k, n)) if (1..=n).contains(&k) && n <= 1000 => Ok((k, n)),
        _ => Err(format!(
            "`{value}` is not a shard: write K/N with 1 <= K <= N, e.g. 2/4"
        )),
    }
}

fn request_timeout(value: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(value).map_err(|e| format!("`{value}` is not a duration: {e}"))?;
    if (Duration::from_secs(1)..=Duration::from_secs(600)).contains(&duration) {
        Ok(duration)
    } else {
        Err(format!("`{value}` is outside 1s to 10m"))
    }
}

fn default_run_id() -> String {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format!("run-{seconds}")
}
