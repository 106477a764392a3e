//! One `cargo test` trial per scenario case and lane. Lanes that cannot run here are ignored with their reason;
//! the offline lane snapshots each case's rendered manifests and normalised outcomes beside this file. When the test
//! bed is up, the cluster lane runs every case against it (its outcomes are simulated, held against the scenario).

use std::path::{Path, PathBuf};

use harness::lanes::{self, Context};
use harness::outcome::Outcome;
use harness::plan;
use harness::render;
use harness::scenario::{self, matrix::Case};
use harness::words::Lane;
use libtest_mimic::{Arguments, Completion, Failed, Trial};

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_owned()
}

fn main() -> std::process::ExitCode {
    let args = Arguments::from_args();
    let root = repository();
    let mut trials = Vec::new();
    let mut loaded = Vec::new();
    for file in walkdir::WalkDir::new(root.join("scenarios")).sort_by_file_name() {
        let Ok(file) = file else { continue };
        let path = file.path().to_owned();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let shown = path.strip_prefix(&root).unwrap_or(&path).display().to_string();
        match scenario::load(&path) {
            Ok(scenario) => loaded.push(scenario),
            Err(error) => {
                let message = error.render();
                trials.push(Trial::test(format!("load/{shown}"), move || Err(message.into())));
            }
        }
    }
    let context = Context {
        run_id: "snapshot".to_owned(),
        ..Context::default()
    };
    // The cluster lane's cases run against the test bed when it is up, under a run id of their own.
    let cluster = Context {
        run_id: format!("trials-{}", std::process::id()),
        cluster: testbed(&loaded),
        probe: lanes::Delivery(lanes::cluster::Probe::find()),
        ..Context::default()
    };
    for planned in plan::plan(&loaded, Lane::ALL, &cluster) {
        let name = planned.case.name();
        let lane = planned.case.lane;
        let trial = match planned.skip {
            Some(reason) => Trial::ignorable_test(name, move || Ok(Completion::ignored_with(reason))),
            None => {
                let case = planned.case;
                let context = if lane == Lane::Cluster {
                    cluster.clone()
                } else {
                    context.clone()
                };
                Trial::ignorable_test(name, move || run(&case, &context))
            }
        };
        trials.push(trial.with_kind(lane.as_str()));
    }
    libtest_mimic::run(&args, trials).exit_code()
}

/// The test bed as the cluster lane's target, when it is up (its kubeconfig becomes this process's `KUBECONFIG`
/// unless one is set); `None` otherwise, and the cluster lane's cases are ignored with the reason.
fn testbed(loaded: &[std::sync::Arc<scenario::Loaded>]) -> Option<lanes::cluster::Target> {
    let status = std::process::Command::new(repository().join("fixtures/testbed/testbed"))
        .args(["status", "--json"])
        .output()
        .ok()?;
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).ok()?;
    let kubeconfig = status["kubeconfig"].as_str().filter(|_| status["state"] == "up")?;
    if std::env::var_os("KUBECONFIG").is_none() {
        // SAFETY: at the start of main, before any thread of this process is started.
        unsafe { std::env::set_var("KUBECONFIG", kubeconfig) };
    }
    let context = status["context"].as_str()?.to_owned();
    let allowed: Vec<String> = loaded
        .iter()
        .flat_map(|l| l.scenario.cluster.contexts.clone())
        .collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()?;
    let timeout = std::time::Duration::from_secs(30);
    runtime
        .block_on(lanes::cluster::check(&context, &allowed, timeout))
        .ok()
}

/// Runs one case on a thread of its own with a large stack: the cluster lane's steps nest deeply when polled in a
/// debug build, deeper than a test thread's 2 MiB.
fn run(case: &Case, context: &Context) -> Result<Completion, Failed> {
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .stack_size(32 << 20)
            .spawn_scoped(scope, || run_here(case, context))
            .map_err(|e| Failed::from(format!("cannot start the case's thread: {e}")))?
            .join()
            .map_err(|_| Failed::from("the case's thread panicked"))?
    })
}

/// Runs one case and holds its outcomes against the scenario's expectations and the accepted snapshots.
fn run_here(case: &Case, context: &Context) -> Result<Completion, Failed> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let outcomes: Vec<_> = runtime
        .block_on(lanes::run(case, context))
        .into_iter()
        .map(|observation| harness::judge::judge(case, observation))
        .collect();
    let snapshot_name = case.name().replace(['/', '='], "_");
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(repository().join("harness/tests/snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_input_file(&case.loaded.path);
    settings.set_omit_expression(true);
    // Offline results are the harness's own and are snapshotted. What a host or cluster lane observes is held
    // against the scenario's expectations; accepted snapshots of real observations are kept apart from these.
    if case.lane == Lane::Offline {
        settings.bind(|| {
            let manifests = render::render(case, &context.run_id, &context.overrides);
            insta::assert_snapshot!(format!("render__{snapshot_name}"), manifests.to_yaml());
            insta::assert_yaml_snapshot!(
                format!("outcomes__{}__{snapshot_name}", case.lane),
                outcomes.iter().map(Outcome::normalised).collect::<Vec<_>>()
            );
        });
    }
    let differs = |o: &&Outcome| !o.verdict.as_expected() || o.verdict == harness::outcome::Verdict::InfraError;
    // A simulated node shows only the mechanisms its doubles simulate (the bind filter's refusal, not containerd's
    // volume mounts): a verdict that differs there, with no infrastructure failure, says what the test bed cannot
    // show. The case is ignored with that list, never passed; tests/cluster.rs holds the simulated mechanisms.
    let simulated_only = outcomes.iter().filter(differs).all(|o| {
        o.evidence == harness::outcome::Evidence::Simulated && o.verdict != harness::outcome::Verdict::InfraError
    });
    let unexpected: Vec<String> = outcomes
        .iter()
        .filter(differs)
        .map(|o| {
            format!(
                "{} {}: {} (expected {})",
                o.step,
                o.verdict.as_str(),
                serde_json::to_string(&o.result).unwrap_or_default(),
                o.expected.as_deref().unwrap_or("nothing")
            )
        })
        .collect();
    // A case whose every step was skipped did not run here: ignored, with the reason, never passed.
    let skips: Vec<&str> = outcomes.iter().filter_map(|o| o.result.skip_reason()).collect();
    if unexpected.is_empty() && !outcomes.is_empty() && skips.len() == outcomes.len() {
        Ok(Completion::ignored_with(skips[0].to_owned()))
    } else if unexpected.is_empty() {
        Ok(Completion::Completed)
    } else if case.lane == Lane::Cluster && simulated_only {
        Ok(Completion::ignored_with(format!(
            "the test bed's simulated node does not show: {}",
            unexpected.join("; ")
        )))
    } else {
        Err(unexpected.join("\n").into())
    }
}
