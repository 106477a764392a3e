//! Running a command in the workload's container under test, bounded in time.

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, AttachParams};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long one command may take, unless the scenario says (`workload.execTimeout`).
pub const EXEC_TIMEOUT: Duration = Duration::from_secs(120);

/// The workload as it runs: its namespace's pods, the pod that runs it, and the container under test.
pub struct Workload {
    pub pods: Api<Pod>,
    pub pod: Option<String>,
    pub container: String,
    /// The longest one API request may take: how soon a command whose stream went silent is given up when the API
    /// server stops answering.
    pub timeout: Duration,
    /// The longest one command may take.
    pub exec_timeout: Duration,
}

/// Why a command gave no output: it outlasted the workload's `exec_timeout`, or it could not run.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ExecError {
    #[error("{0}")]
    Timeout(String),
    #[error("{0}")]
    Failed(String),
}

impl From<ExecError> for crate::lanes::Unobserved {
    fn from(e: ExecError) -> crate::lanes::Unobserved {
        match e {
            ExecError::Timeout(message) => crate::lanes::Unobserved::Timeout(message),
            ExecError::Failed(message) => crate::lanes::Unobserved::Exec(message),
        }
    }
}

impl From<ExecError> for String {
    fn from(e: ExecError) -> String {
        e.to_string()
    }
}

/// What a command printed, and whether it exited 0 (when the API says).
pub struct Output {
    pub stdout: String,
    pub stderr: String,
    pub success: Option<bool>,
    /// The exit status, when the API reports it (a `NonZeroExitCode` status's `ExitCode` cause; 0 on success).
    pub exit_code: Option<i32>,
}

impl Output {
    /// The first line the command said, stdout before stderr, that is not the test bed's "simulated" banner: what
    /// a failure shows of it.
    pub fn first_line(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with("simulated: harness test double"))
            .unwrap_or("no answer")
            .to_owned()
    }
}

/// Runs `argv` in the container under test of `pod`; what it printed, or why it could not run.
pub async fn exec(workload: &Workload, pod: &str, argv: Vec<String>) -> Result<Output, ExecError> {
    run(workload, pod, argv, None).await
}

/// [`exec`], writing `input` to the command's stdin (and leaving it open: the command reads what it needs).
pub async fn exec_with_input(
    workload: &Workload,
    pod: &str,
    argv: Vec<String>,
    input: Arc<Vec<u8>>,
) -> Result<Output, ExecError> {
    run(workload, pod, argv, Some(input)).await
}

async fn run(
    workload: &Workload,
    pod: &str,
    argv: Vec<String>,
    input: Option<Arc<Vec<u8>>>,
) -> Result<Output, ExecError> {
    let run = async {
        let params = AttachParams::default()
            .container(workload.container.clone())
            .stdin(input.is_some())
            .stdout(true)
            .stderr(true);
        let mut attached = workload
            .pods
            .exec(pod, argv.clone(), &params)
            .await
            .map_err(|e| crate::redact::secrets(&e.to_string()).into_owned())?;
        let (mut stdout, mut stderr) = (String::new(), String::new());
        let status = attached.take_status();
        let (out, err, stdin) = (attached.stdout(), attached.stderr(), attached.stdin());
        let write_in = async {
            if let (Some(mut stdin), Some(input)) = (stdin, &input) {
                let _ = stdin.write_all(input).await;
                let _ = stdin.flush().await;
            }
        };
        let read_out = async {
            if let Some(mut s) = out {
                let _ = s.read_to_string(&mut stdout).await;
            }
        };
        let read_err = async {
            if let Some(mut s) = err {
                let _ = s.read_to_string(&mut stderr).await;
            }
        };
        tokio::join!(read_out, read_err, write_in);
        let status = match status {
            Some(status) => status.await,
            None => None,
        };
        let success = status.as_ref().map(|s| s.status.as_deref() == Some("Success"));
        let exit_code = match &status {
            Some(s) if s.status.as_deref() == Some("Success") => Some(0),
            Some(s) => s
                .details
                .as_ref()
                .and_then(|d| d.causes.as_ref())
                .into_iter()
                .flatten()
                .find(|c| c.reason.as_deref() == Some("ExitCode"))
                .and_then(|c| c.message.as_deref()?.trim().parse().ok()),
            None => None,
        };
        let _ = attached.join().await;
        Ok::<_, String>(Output {
            stdout,
            stderr,
            success,
            exit_code,
        })
    };
    let shown = argv.first().cloned().unwrap_or_default();
    let client = workload.pods.clone().into_client();
    let run = crate::lanes::cluster::connect::while_answering(client, workload.timeout, run);
    let limit = workload.exec_timeout;
    match tokio::time::timeout(limit, run).await {
        Ok(Ok(Ok(output))) => Ok(output),
        Ok(Ok(Err(message)) | Err(message)) => Err(ExecError::Failed(message)),
        Err(_) => Err(ExecError::Timeout(format!(
            "`{shown}` did not finish within {}",
            humantime::format_duration(limit)
        ))),
    }
}
