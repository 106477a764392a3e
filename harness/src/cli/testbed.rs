//! `harness testbed up | down | status`: drives the local test bed (`fixtures/testbed/testbed`); `up --scenario`
//! gives its simulated Windows node the environment a scenario declares.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::exit::Exit;
use crate::scenario;

/// Arguments of `harness testbed`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Bring the test bed up (harmless when it is up).
    Up {
        /// Give the simulated Windows node this scenario's declared environment (containerd, kubelet, Windows build).
        #[arg(long)]
        scenario: Option<PathBuf>,
    },
    /// Tear it down: no process, mount or port is left.
    Down,
    /// Print the kubeconfig and context; exit 0 when up, 3 when down.
    Status {
        #[arg(long)]
        json: bool,
    },
}

pub fn run(args: Args) -> Exit {
    let Some(script) = script() else {
        errln!(
            "error: fixtures/testbed/testbed not found above {}\n  help: run harness from the repository",
            std::env::current_dir().unwrap_or_default().display()
        );
        return Exit::InvalidInput;
    };
    let mut command = Command::new(&script);
    match args.action {
        Action::Up { scenario } => {
            command.arg("up");
            if let Some(path) = scenario {
                match scenario::load(&path) {
                    Ok(loaded) => command.envs(node_environment(&loaded.scenario.cluster.expects)),
                    Err(error) => {
                        diagln!(error.render());
                        return Exit::InvalidInput;
                    }
                };
            }
        }
        Action::Down => {
            command.arg("down");
        }
        Action::Status { json } => {
            command.arg("status");
            if json {
                command.arg("--json");
            }
        }
    }
    match command.status() {
        Ok(status) if status.success() => Exit::Ok,
        Ok(_) => Exit::Infrastructure,
        Err(e) => {
            errln!("error: cannot run {}: {e}", script.display());
            Exit::Infrastructure
        }
    }
}

/// The test bed's node overrides for a declared environment.
fn node_environment(declared: &scenario::model::Environment) -> Vec<(String, String)> {
    let mut env = Vec::new();
    if let Some(containerd) = &declared.containerd {
        let version = containerd.trim_start_matches("containerd://");
        env.push((
            "TESTBED_WINDOWS_CONTAINER_RUNTIME_VERSION".to_owned(),
            format!("containerd://{version}"),
        ));
    }
    if let Some(kubelet) = declared.kubelet.as_ref().or(declared.k0s.as_ref()) {
        env.push(("TESTBED_WINDOWS_KUBELET_VERSION".to_owned(), kubelet.clone()));
        env.push(("TESTBED_WINDOWS_KUBE_PROXY_VERSION".to_owned(), kubelet.clone()));
    }
    if let Some(build) = &declared.windows_build {
        env.push(("TESTBED_WINDOWS_KERNEL_VERSION".to_owned(), format!("10.0.{build}")));
        if let Some(major) = build.split('.').next() {
            env.push(("TESTBED_WINDOWS_BUILD".to_owned(), format!("10.0.{major}")));
        }
    }
    env
}

/// The test bed script of the repository the harness runs in.
fn script() -> Option<PathBuf> {
    let here = std::env::current_dir().ok()?;
    here.ancestors()
        .chain(Path::new(env!("CARGO_MANIFEST_DIR")).ancestors())
        .map(|dir| dir.join("fixtures/testbed/testbed"))
        .find(|path| path.is_file())
}

/// The local test bed, lent to a `harness run` given no `--context`: up already, or brought up for the run and taken
/// down when the lent value is dropped.
#[derive(Debug)]
pub struct Lent {
    pub kubeconfig: PathBuf,
    pub context: String,
    /// Whether this run brought it up (then dropping it takes it down).
    brought_up: bool,
    script: PathBuf,
}

/// What `testbed status --json` says, the part a run needs.
#[derive(Debug, serde::Deserialize)]
struct Status {
    state: String,
    built: bool,
    kubeconfig: Option<PathBuf>,
    context: String,
}

impl Lent {
    /// Whether `harness run` without `--context` would borrow the local test bed, and its state now (`up`, `down`),
    /// without changing it.
    pub fn would_borrow() -> Option<String> {
        built().map(|(_, status)| status.state)
    }

    /// The local test bed when this repository has one and its binaries are built: `None` when not, the reason
    /// when it is built but does not come up (then it is taken down again).
    pub fn borrow() -> Result<Option<Lent>, String> {
        let Some((script, before)) = built() else {
            return Ok(None);
        };
        let brought_up = before.state != "up";
        let mut lent = Lent {
            kubeconfig: PathBuf::new(),
            context: before.context.clone(),
            brought_up,
            script,
        };
        // From here every error drops `lent`, which takes the test bed down again if this run brought it up.
        let now = if brought_up {
            errln!("the cluster lane has no --context: bringing the local test bed up for this run");
            run_script(&lent.script, "up")?;
            status(&lent.script).ok_or("the test bed printed no status after coming up")?
        } else {
            before
        };
        match now.kubeconfig {
            Some(kubeconfig) if now.state == "up" => {
                (lent.kubeconfig, lent.context) = (kubeconfig, now.context);
                Ok(Some(lent))
            }
            _ => Err(format!("the test bed is {} and names no kubeconfig", now.state)),
        }
    }
}

/// Takes the test bed down again if this run brought it up.
impl Drop for Lent {
    fn drop(&mut self) {
        if self.brought_up {
            errln!("taking the local test bed down again");
            if let Err(e) = run_script(&self.script, "down") {
                errln!("error: {e}");
            }
        }
    }
}

/// This repository's test bed script and its status, when its binaries are built. Linux only: KWOK, etcd, mounts.
fn built() -> Option<(PathBuf, Status)> {
    let script = script().filter(|_| cfg!(target_os = "linux"))?;
    let status = status(&script).filter(|status| status.built)?;
    Some((script, status))
}

/// `testbed status --json`, or `None` when it does not run or prints nothing usable.
fn status(script: &Path) -> Option<Status> {
    let output = Command::new(script).args(["status", "--json"]).output().ok()?;
    serde_json::from_slice(&output.stdout).ok()
}

/// Runs `testbed ACTION`, its progress on stderr.
fn run_script(script: &Path, action: &str) -> Result<(), String> {
    let status = Command::new(script)
        .arg(action)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .status()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "`{} {action}` failed ({status}); its reason is above",
            script.display()
        ))
    }
}
