//! What hcsshim does to start a HostProcess container's process, as plain data: names, paths, the command line, the environment and the report's `options`.
//!
//! The Windows calls that use these live in `os::windows::silo`; keeping the choices here lets them be tested
//! everywhere. Sources: hcsshim v0.11.7 (containerd 1.7.29's) `internal/jobcontainers/{jobcontainer,storage,mounts,
//! env,logon}.go`; the same lines in v0.14.1.

use crate::args::{Command, InSiloArgs, Token};
use crate::report::Options;

/// `defaultSiloRootfsLocation` (storage.go:27): where the container's volume is bound for the silo.
pub const ROOTFS_LOCATION: &str = r"C:\hpc\";

/// `sandboxMountPointEnvVar` (jobcontainer.go:43).
pub const SANDBOX_MOUNT_POINT_VAR: &str = "CONTAINER_SANDBOX_MOUNT_POINT";

/// Where Kubernetes mounts the service-account token in a Windows container; hcsshim binds each OCI mount at its
/// `Destination` for the silo (mounts.go:118), read-only for a `ro` mount (the token volume is read-only).
pub const TOKEN_MOUNT_DESTINATION: &str = r"C:\var\run\secrets\kubernetes.io\serviceaccount";

/// The PATH additions hcsshim makes (jobcontainer.go:311), after the rootfs location.
pub const EXTRA_PATHS: &str = r";C:\WINDOWS\System32\WindowsPowerShell\v1.0\;C:\WINDOWS\System32\Wbem";

/// `jobContainerNameFmt` (jobcontainer.go:40).
pub fn job_name(id: &str) -> String {
    format!("JobContainer_{id}")
}

/// A container-like id: 16 hex digits of the time in nanoseconds, 8 of the pid (containerd's ids are 64 hex digits).
pub fn new_id(nanos: u128, pid: u32) -> String {
    format!("{:016x}{pid:08x}", nanos as u64)
}

/// The command line hcsshim passes with file binding support: `"cmd /c " + commandLine` (jobcontainer.go:339).
/// cmd then reads the rest as its own command line, as it does in a HostProcess container.
pub fn cmd_c(command_line: &str) -> String {
    format!("cmd /c {command_line}")
}

/// The child's environment as hcsshim builds it (jobcontainer.go:285-314): the token's block, then
/// `CONTAINER_SANDBOX_MOUNT_POINT=<rootfs>`, and every `PATH=` entry extended with the rootfs location and
/// PowerShell's and WMI's folders. Returns the whole list and the entries added or changed.
pub fn environment(block: Vec<String>, rootfs: &str) -> (Vec<String>, Vec<String>) {
    let mut env = block;
    env.push(format!("{SANDBOX_MOUNT_POINT_VAR}={rootfs}"));
    let mut added = vec![format!("{SANDBOX_MOUNT_POINT_VAR}={rootfs}")];
    for entry in &mut env {
        let ev = entry.trim();
        if ev.to_lowercase().starts_with("path=") {
            let location = if ev.ends_with(';') {
                rootfs.to_owned()
            } else {
                format!(";{rootfs}")
            };
            *entry = format!("{ev}{location}{EXTRA_PATHS}");
            added.push(entry.clone());
        }
    }
    (env, added)
}

/// A `CreateProcess` environment block: `NAME=value\0...\0\0` in UTF-16.
pub fn environment_block(env: &[String]) -> Vec<u16> {
    let mut block: Vec<u16> = Vec::new();
    for entry in env {
        block.extend(entry.encode_utf16());
        block.push(0);
    }
    if env.is_empty() {
        block.push(0);
    }
    block.push(0);
    block
}

/// The entries of a `CreateEnvironmentBlock` block (UTF-16 strings up to an empty one).
pub fn parse_environment_block(block: &[u16]) -> Vec<String> {
    block
        .split(|&c| c == 0)
        .take_while(|entry| !entry.is_empty())
        .map(String::from_utf16_lossy)
        .collect()
}

/// The `options` object for a command.
pub fn options(command: &Command) -> Option<Options> {
    match command {
        Command::Bind(a) => Some(mount_options(a.read_only, a.enable_privileges)),
        Command::Layer(a) => Some(mount_options(a.read_only, a.enable_privileges)),
        Command::InSilo(a) => Some(in_silo_options(a)),
        Command::AsSystem(a) => Some(Options {
            as_system_args: Some(a.args.clone()),
            ..Options::default()
        }),
        Command::Context | Command::Help | Command::Version => None,
    }
}

/// `bind`'s and `layer`'s options: both mount read-write unless told otherwise.
fn mount_options(read_only: bool, enable_privileges: bool) -> Options {
    Options {
        read_only: Some(read_only),
        enable_privileges: Some(enable_privileges),
        // buildkit's mount is read-write: the seed's read-only default is the departure.
        departures: if read_only { vec!["--ro".to_owned()] } else { Vec::new() },
        ..Options::default()
    }
}

/// `in-silo`'s options: each choice, and the departures from hcsshim.
pub fn in_silo_options(a: &InSiloArgs) -> Options {
    let named = |hcsshim: bool, yes: &str, no: &str| Some(if hcsshim { yes } else { no }.to_owned());
    Options {
        token: Some(a.token.as_str().to_owned()),
        breakaway: Some(a.breakaway),
        job: named(a.hcsshim_job, "hcsshim", "bare"),
        rootfs_bind: Some(a.rootfs_bind),
        token_bind: Some(a.token_bind),
        cmd_c: Some(a.cmd_c),
        environment: named(a.hcsshim_env, "hcsshim", "inherit"),
        working_directory: named(a.rootfs_cwd, "rootfs", "inherit"),
        assign: Some(a.assign.as_str().to_owned()),
        extra_silo_binds: Some(a.silo_binds.len() as u32),
        departures: a.departures(),
        ..Options::default()
    }
}

/// Whether the child is started with a token of its own (`CreateProcessAsUserW`).
pub fn uses_logon_token(a: &InSiloArgs) -> bool {
    a.token == Token::SystemService
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{Assign, parse};

    fn in_silo(args: &[&str]) -> InSiloArgs {
        match parse(args.iter().copied()).unwrap().command {
            Command::InSilo(a) => a,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_defaults_are_hcsshim_s() {
        let a = in_silo(&["in-silo", "--", "bindprobe.exe", "context"]);
        assert_eq!(a, InSiloArgs::hcsshim("bindprobe.exe", vec!["context".into()]));
        let o = in_silo_options(&a);
        assert_eq!(o.token.as_deref(), Some("inherit"));
        assert_eq!(o.breakaway, Some(true));
        assert_eq!(o.job.as_deref(), Some("hcsshim"));
        assert_eq!(
            (o.rootfs_bind, o.token_bind, o.cmd_c),
            (Some(true), Some(true), Some(true))
        );
        assert_eq!(o.environment.as_deref(), Some("hcsshim"));
        assert_eq!(o.working_directory.as_deref(), Some("rootfs"));
        // The token is the one departure left by default, while the SYSTEM path is unproven.
        assert_eq!(o.departures, ["--token inherit"]);
        let system = in_silo(&["in-silo", "--token", "system-service", "--", "x"]);
        assert!(in_silo_options(&system).departures.is_empty());
        assert!(uses_logon_token(&system));
    }

    /// Every departure, one at a time: the option parses, changes exactly its field, and is named.
    #[test]
    fn the_option_matrix() {
        let base = in_silo_options(&in_silo(&["in-silo", "--token=system-service", "--", "x"]));
        let cases: &[(&[&str], &str)] = &[
            (&["--token", "inherit"], "--token inherit"),
            (&["--no-breakaway"], "--no-breakaway"),
            (&["--bare-silo"], "--bare-silo"),
            (&["--no-rootfs-bind"], "--no-rootfs-bind"),
            (&["--rootfs-source", r"\\?\Volume{0}\"], "--rootfs-source"),
            (&["--no-token-bind"], "--no-token-bind"),
            (&["--no-cmd"], "--no-cmd"),
            (&["--inherit-env"], "--inherit-env"),
            (&["--inherit-cwd"], "--inherit-cwd"),
            (&["--assign", "suspended"], "--assign suspended"),
            (&["--silo-bind", r"C:\a", r"C:\b"], "--silo-bind"),
        ];
        for (flags, name) in cases {
            let mut argv = vec!["in-silo", "--token=system-service"];
            argv.extend_from_slice(flags);
            argv.extend_from_slice(&["--", "x"]);
            let o = in_silo_options(&in_silo(&argv));
            assert_eq!(o.departures, [*name], "{argv:?}");
            let changed = [
                o.token != base.token,
                o.breakaway != base.breakaway,
                o.job != base.job,
                o.rootfs_bind != base.rootfs_bind,
                o.token_bind != base.token_bind,
                o.cmd_c != base.cmd_c,
                o.environment != base.environment,
                o.working_directory != base.working_directory,
                o.assign != base.assign,
                o.extra_silo_binds != base.extra_silo_binds,
            ]
            .iter()
            .filter(|c| **c)
            .count();
            let expected = usize::from(*name != "--rootfs-source");
            assert_eq!(changed, expected, "{argv:?}: {o:?}");
        }
        // All of them at once: today's bare behaviour.
        let bare = in_silo(&[
            "in-silo",
            "--bare-silo",
            "--no-breakaway",
            "--no-rootfs-bind",
            "--no-token-bind",
            "--no-cmd",
            "--inherit-env",
            "--inherit-cwd",
            "--",
            "x",
        ]);
        assert_eq!(bare.departures().len(), 8);
        assert_eq!(bare.assign, Assign::JobList);
        // `--breakaway` is still accepted (it is the default).
        assert!(in_silo(&["in-silo", "--no-breakaway", "--breakaway", "--", "x"]).breakaway);
    }

    #[test]
    fn bind_options_name_the_read_only_departure() {
        let o = options(&parse(["bind", "a", "b"]).unwrap().command).unwrap();
        assert_eq!(
            (o.read_only, o.departures.clone()),
            (Some(true), vec!["--ro".to_owned()])
        );
        let rw = options(&parse(["bind", "a", "b", "--rw"]).unwrap().command).unwrap();
        assert_eq!((rw.read_only, rw.departures.len()), (Some(false), 0));
        assert!(options(&Command::Context).is_none());
        let json = serde_json::to_value(&rw).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"read_only": false, "enable_privileges": false, "departures": []})
        );
    }

    #[test]
    fn command_line_and_names() {
        assert_eq!(job_name("abc"), "JobContainer_abc");
        assert_eq!(
            cmd_c(r"C:\b\bindprobe.exe bind C:\s C:\d --rw"),
            r"cmd /c C:\b\bindprobe.exe bind C:\s C:\d --rw"
        );
        let id = new_id(0x1234, 42);
        assert_eq!(id, "00000000000012340000002a");
        assert!(crate::args::parse(["in-silo", "--id", &id, "--", "x"]).is_ok());
        assert!(crate::args::parse(["in-silo", "--id", "a b", "--", "x"]).is_err());
    }

    #[test]
    fn environment_is_hcsshim_s() {
        let block = vec![
            r"ALLUSERSPROFILE=C:\ProgramData".to_owned(),
            r"Path=C:\Windows\system32;C:\Windows".to_owned(),
        ];
        let (env, added) = environment(block, ROOTFS_LOCATION);
        assert_eq!(env[0], r"ALLUSERSPROFILE=C:\ProgramData");
        let path = r"Path=C:\Windows\system32;C:\Windows;C:\hpc\;C:\WINDOWS\System32\WindowsPowerShell\v1.0\;C:\WINDOWS\System32\Wbem";
        assert_eq!(env[1], path);
        assert_eq!(env[2], r"CONTAINER_SANDBOX_MOUNT_POINT=C:\hpc\");
        assert_eq!(added, [r"CONTAINER_SANDBOX_MOUNT_POINT=C:\hpc\", path]);
        // A PATH ending in ';' gets no second separator.
        let (env, _) = environment(vec!["PATH=C:\\x;".into()], ROOTFS_LOCATION);
        assert!(env[0].starts_with(r"PATH=C:\x;C:\hpc\;C:\WINDOWS"), "{}", env[0]);
        let wide = environment_block(&env);
        assert_eq!(&wide[wide.len() - 2..], [0, 0]);
        assert_eq!(parse_environment_block(&wide), env);
        assert_eq!(environment_block(&[]), [0, 0]);
        assert!(parse_environment_block(&[0, 0]).is_empty());
    }
}
