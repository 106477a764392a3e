//! Command-line parsing for `bindprobe` (a small hand parser: the probe is uploaded to nodes and stays
//! dependency-light).

/// The usage text, printed by `--help` and after a usage error.
pub const USAGE: &str = "\
usage: bindprobe [--text] [--report-file FILE] <command> [options]

commands:
  bind SRC DST [--rw|--ro] [--enable-privileges]
      go-winio ApplyFileBinding(DST, SRC, readOnly) as buildkit calls it: MkdirAll(Dir(DST)),
      BfSetupFilter(NULL job, NO_MULTIPLE_TARGETS | READ_ONLY_MAPPING (unless --rw), DST, SRC).
      --ro is the default (the seed's test-bind.exe); buildkit's failing mount is --rw.
      On success proves the binding (a marker written in SRC is read through DST), then
      BfRemoveMapping(NULL, DST). SRC and DST are created when missing.
  layer LAYER_DIR DST [--parent DIR]... [--ro] [--enable-privileges]
      containerd's windows-layer mount: ActivateLayer, PrepareLayer, GetLayerMountPath
      (vmcompute.dll), then ApplyFileBinding(DST, <mount>\\Files for a base layer, else <mount>),
      read-write unless --ro. Always UnprepareLayer / DeactivateLayer on the way out.
  --enable-privileges (bind, layer): first enable SeBackupPrivilege and SeRestorePrivilege, as
      go-winio's EnableProcessPrivileges does (the seed's buildkitd had them enabled).
  context
      Where the probe runs: job, silo, token user and privileges, CONTAINER_SANDBOX_MOUNT_POINT,
      bindflt service, OS build.
  in-silo [--token inherit|system-service] [--no-breakaway] [--bare-silo] [--no-rootfs-bind]
          [--rootfs-source VOLUME_PATH] [--no-token-bind] [--token-bind-source DIR] [--no-cmd]
          [--inherit-env] [--inherit-cwd] [--id ID] [--assign job-list|suspended] [--timeout SECS]
          [--silo-bind SRC DST]... -- PROGRAM [ARGS...]
      Start PROGRAM the way hcsshim starts a HostProcess container's process: a job named
      JobContainer_<ID> with an I/O completion port and I/O tracking, kill-on-close, promoted to a
      silo; the system volume's \\\\?\\Volume{GUID}\\ bound at C:\\hpc\\ for the silo
      (BfSetupFilter(job, USE_CURRENT_SILO_MAPPING)); a read-only silo binding at the service-account
      token path; CREATE_BREAKAWAY_FROM_JOB; `cmd /c` PROGRAM ARGS; the token's environment plus
      CONTAINER_SANDBOX_MOUNT_POINT=C:\\hpc\\; working directory C:\\hpc\\. Each --no-*, --bare-*,
      --inherit-* option is one departure from hcsshim. --token inherit (the default for now) starts
      the child with bindprobe's own token (CreateProcessW); --token system-service with
      LogonUser(SYSTEM, NT AUTHORITY, LOGON32_LOGON_SERVICE) and CreateProcessAsUserW, which needs
      SeTcbPrivilege: run it through as-system. Relays the child's output and exit code.
  as-system [--timeout SECS] -- BINDPROBE_ARGS...
      Run bindprobe BINDPROBE_ARGS as NT AUTHORITY\\SYSTEM: register a one-shot scheduled task with
      a SYSTEM principal, run it, wait for the report it writes (--report-file), delete the task.
  --report-file FILE: also write the report to FILE (written whole, then renamed into place).
  help | --help | -h     this text
  version | --version    the bindprobe version

Every command prints one JSON object on stdout (readable text with --text).
exit codes: 0 ok, 1 the probed operation failed or was denied, 2 usage, 3 could not set up
(not Windows, a DLL or directory missing, ...); in-silo exits with the child's exit code once
the child ran.
";

/// How `in-silo` puts the child into the silo.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Assign {
    /// `PROC_THREAD_ATTRIBUTE_JOB_LIST` at `CreateProcessW` (hcsshim `internal/exec`, as HostProcess
    /// containers start their processes).
    JobList,
    /// `CREATE_SUSPENDED`, `AssignProcessToJobObject`, `ResumeThread`.
    Suspended,
}

impl Assign {
    /// The name used on the command line and in the report.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::JobList => "job-list",
            Self::Suspended => "suspended",
        }
    }
}

/// Whose token the `in-silo` child gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Token {
    /// bindprobe's own token, `CreateProcessW` (what bindprobe always did; hcsshim does the like only with the
    /// `microsoft.com/hostprocess-inherit-user` annotation, and then still through `CreateProcessAsUser`).
    Inherit,
    /// `LogonUserW("SYSTEM", "NT AUTHORITY", NULL, LOGON32_LOGON_SERVICE)` and `CreateProcessAsUserW`, as hcsshim
    /// does for a pod with `runAsUserName: NT AUTHORITY\SYSTEM`. Needs SeTcbPrivilege (run as SYSTEM).
    SystemService,
}

impl Token {
    /// The name used on the command line and in the report.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Inherit => "inherit",
            Self::SystemService => "system-service",
        }
    }
}

/// `bind SRC DST [--rw]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BindArgs {
    /// The backing directory (go-winio's `source`, the "target" of its error text).
    pub source: String,
    /// The mount point (go-winio's `root`).
    pub root: String,
    /// `--rw`: a read-write binding (the seed's test-bind.exe passed `readOnly = true`).
    pub read_only: bool,
    /// `--enable-privileges`: enable SeBackupPrivilege and SeRestorePrivilege first.
    pub enable_privileges: bool,
}

/// `layer LAYER_DIR DST [--parent DIR]... [--ro]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerArgs {
    /// The layer (snapshot) folder: containerd's `Mount.Source`.
    pub layer: String,
    /// The mount point.
    pub root: String,
    /// Parent layer folders (containerd's `parentLayerPaths=` option), nearest first.
    pub parents: Vec<String>,
    /// `--ro`: bind read-only (buildkit mounts the seed's snapshot `[rw]`).
    pub read_only: bool,
    /// `--enable-privileges`: enable SeBackupPrivilege and SeRestorePrivilege first.
    pub enable_privileges: bool,
}

/// `in-silo [options] -- PROGRAM ARGS...`. Every default is what hcsshim does for a HostProcess container; every
/// option that changes one is a departure named in the report (`options.departures`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InSiloArgs {
    /// How the child joins the silo (hcsshim: `job-list`).
    pub assign: Assign,
    /// `CREATE_BREAKAWAY_FROM_JOB` (hcsshim always; `--no-breakaway` drops it). `--breakaway` is still accepted.
    pub breakaway: bool,
    /// `--timeout SECS`: terminate the silo's job after this long.
    pub timeout_secs: Option<u64>,
    /// `--silo-bind SRC DST`: extra silo-only bindings made before the child starts, `(source, root)`.
    pub silo_binds: Vec<(String, String)>,
    /// hcsshim's job: named `JobContainer_<id>`, an I/O completion port, I/O tracking. `--bare-silo`: an unnamed
    /// job with none of them (what bindprobe did before).
    pub hcsshim_job: bool,
    /// Bind the rootfs volume at `C:\hpc\` for the silo (`--no-rootfs-bind` skips it).
    pub rootfs_bind: bool,
    /// `--rootfs-source`: the volume bound at `C:\hpc\`; default the system volume's `\\?\Volume{GUID}\`.
    pub rootfs_source: Option<String>,
    /// A read-only silo binding like the service-account token mount (`--no-token-bind` skips it).
    pub token_bind: bool,
    /// `--token-bind-source`: the directory bound there; default `<temp>\bindprobe-<id>\kube-api-access`.
    pub token_bind_source: Option<String>,
    /// Whose token the child gets.
    pub token: Token,
    /// Start `cmd /c PROGRAM ARGS` (hcsshim with bindflt); `--no-cmd` starts PROGRAM directly.
    pub cmd_c: bool,
    /// The token's environment block plus `CONTAINER_SANDBOX_MOUNT_POINT` and hcsshim's PATH additions;
    /// `--inherit-env`: bindprobe's own environment.
    pub hcsshim_env: bool,
    /// Working directory `C:\hpc\`; `--inherit-cwd`: bindprobe's own.
    pub rootfs_cwd: bool,
    /// `--id`: the container id in the job name and default paths; default one made from the time and pid.
    pub id: Option<String>,
    /// The program to start.
    pub program: String,
    /// Its arguments.
    pub args: Vec<String>,
}

impl InSiloArgs {
    /// hcsshim's way for `program args`: every default.
    pub fn hcsshim(program: impl Into<String>, args: Vec<String>) -> Self {
        Self {
            assign: Assign::JobList,
            breakaway: true,
            timeout_secs: None,
            silo_binds: Vec::new(),
            hcsshim_job: true,
            rootfs_bind: true,
            rootfs_source: None,
            token_bind: true,
            token_bind_source: None,
            token: Token::Inherit,
            cmd_c: true,
            hcsshim_env: true,
            rootfs_cwd: true,
            id: None,
            program: program.into(),
            args,
        }
    }

    /// The options that depart from hcsshim, as they are written on the command line.
    pub fn departures(&self) -> Vec<String> {
        let mut d = Vec::new();
        let mut add = |cond: bool, name: &str| {
            if cond {
                d.push(name.to_owned());
            }
        };
        add(self.token == Token::Inherit, "--token inherit");
        add(!self.breakaway, "--no-breakaway");
        add(!self.hcsshim_job, "--bare-silo");
        add(!self.rootfs_bind, "--no-rootfs-bind");
        add(self.rootfs_source.is_some(), "--rootfs-source");
        add(!self.token_bind, "--no-token-bind");
        add(!self.cmd_c, "--no-cmd");
        add(!self.hcsshim_env, "--inherit-env");
        add(!self.rootfs_cwd, "--inherit-cwd");
        add(self.assign != Assign::JobList, "--assign suspended");
        add(!self.silo_binds.is_empty(), "--silo-bind");
        d
    }
}

/// `as-system [--timeout SECS] -- ARGS...`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AsSystemArgs {
    /// How long to wait for the task's report (default [`AS_SYSTEM_TIMEOUT_SECS`]).
    pub timeout_secs: u64,
    /// The bindprobe arguments the task runs.
    pub args: Vec<String>,
}

/// The default wait for an `as-system` task's report.
pub const AS_SYSTEM_TIMEOUT_SECS: u64 = 600;

/// A parsed subcommand.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// `help`.
    Help,
    /// `version`.
    Version,
    /// `bind`.
    Bind(BindArgs),
    /// `layer`.
    Layer(LayerArgs),
    /// `context`.
    Context,
    /// `in-silo`.
    InSilo(InSiloArgs),
    /// `as-system`.
    AsSystem(AsSystemArgs),
}

impl Command {
    /// The `probe` field of the report.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Help => "help",
            Self::Version => "version",
            Self::Bind(_) => "bind",
            Self::Layer(_) => "layer",
            Self::Context => "context",
            Self::InSilo(_) => "in-silo",
            Self::AsSystem(_) => "as-system",
        }
    }
}

/// The whole command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invocation {
    /// `--text`: readable text instead of JSON.
    pub text: bool,
    /// `--report-file FILE`: also write the JSON report there.
    pub report_file: Option<String>,
    /// What to do.
    pub command: Command,
}

/// A usage error: exit code 2.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageError {
    /// The subcommand, when it was recognised.
    pub command: Option<&'static str>,
    /// What was wrong.
    pub message: String,
    /// Whether `--text` was seen.
    pub text: bool,
}

fn known(name: &str) -> Option<&'static str> {
    ["bind", "layer", "context", "in-silo", "as-system", "help", "version"]
        .into_iter()
        .find(|k| *k == name)
}

/// Parses the arguments after the program name.
pub fn parse<I, S>(args: I) -> Result<Invocation, UsageError>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let all: Vec<String> = args.into_iter().map(Into::into).collect();
    // Everything after the first `--` is the child's command line and is never interpreted.
    let (ours, child): (&[String], Option<&[String]>) = match all.iter().position(|a| a == "--") {
        Some(i) => (&all[..i], Some(&all[i + 1..])),
        None => (&all[..], None),
    };
    let text = ours.iter().any(|a| a == "--text");
    let err = |command: Option<&'static str>, message: String| UsageError { command, message, text };
    let mut report_file = None;
    let mut words: Vec<&str> = Vec::new();
    let mut it = ours.iter().map(String::as_str);
    while let Some(a) = it.next() {
        match a {
            "--text" => {}
            "--report-file" => match it.next() {
                Some(f) if !f.starts_with("--") => report_file = Some(f.to_owned()),
                _ => return Err(err(None, "--report-file needs a file".into())),
            },
            a if a.starts_with("--report-file=") => report_file = Some(a["--report-file=".len()..].to_owned()),
            a => words.push(a),
        }
    }

    if words.iter().any(|a| *a == "--help" || *a == "-h") {
        return Ok(Invocation {
            text,
            report_file,
            command: Command::Help,
        });
    }
    let Some((&first, rest)) = words.split_first() else {
        return Err(err(None, "no command given".into()));
    };
    let command = match first {
        "--version" | "version" => Command::Version,
        "help" => Command::Help,
        "context" => {
            if let Some(extra) = rest.first() {
                return Err(err(Some("context"), format!("unexpected argument {extra:?}")));
            }
            Command::Context
        }
        "bind" => {
            let mut read_only = true;
            let mut enable_privileges = false;
            let mut positional = Vec::new();
            for a in rest {
                match *a {
                    "--rw" => read_only = false,
                    "--ro" => read_only = true,
                    "--enable-privileges" => enable_privileges = true,
                    flag if flag.starts_with("--") => {
                        return Err(err(Some("bind"), format!("unknown option {flag:?}")));
                    }
                    p => positional.push(p.to_owned()),
                }
            }
            let [source, root]: [String; 2] = positional.try_into().map_err(|p: Vec<String>| {
                err(
                    Some("bind"),
                    format!("expected SRC and DST, got {} argument(s)", p.len()),
                )
            })?;
            Command::Bind(BindArgs {
                source,
                root,
                read_only,
                enable_privileges,
            })
        }
        "layer" => {
            let mut read_only = false;
            let mut enable_privileges = false;
            let mut parents = Vec::new();
            let mut positional = Vec::new();
            let mut it = rest.iter();
            while let Some(a) = it.next() {
                match *a {
                    "--ro" => read_only = true,
                    "--rw" => read_only = false,
                    "--enable-privileges" => enable_privileges = true,
                    "--parent" => match it.next() {
                        Some(p) if !p.starts_with("--") => parents.push((*p).to_owned()),
                        _ => return Err(err(Some("layer"), "--parent needs a directory".into())),
                    },
                    flag if flag.starts_with("--parent=") => parents.push(flag["--parent=".len()..].to_owned()),
                    flag if flag.starts_with("--") => {
                        return Err(err(Some("layer"), format!("unknown option {flag:?}")));
                    }
                    p => positional.push(p.to_owned()),
                }
            }
            let [layer, root]: [String; 2] = positional.try_into().map_err(|p: Vec<String>| {
                err(
                    Some("layer"),
                    format!("expected LAYER_DIR and DST, got {} argument(s)", p.len()),
                )
            })?;
            Command::Layer(LayerArgs {
                layer,
                root,
                parents,
                read_only,
                enable_privileges,
            })
        }
        "in-silo" => {
            let Some((program, args)) = child.and_then(|c| c.split_first()) else {
                // The options are checked first, so their errors come before this one.
                in_silo_options(rest, &mut InSiloArgs::hcsshim("", Vec::new())).map_err(|m| err(Some("in-silo"), m))?;
                return Err(err(Some("in-silo"), "expected -- PROGRAM [ARGS...]".into()));
            };
            let mut a = InSiloArgs::hcsshim(program.clone(), args.to_vec());
            in_silo_options(rest, &mut a).map_err(|m| err(Some("in-silo"), m))?;
            Command::InSilo(a)
        }
        "as-system" => {
            let mut timeout_secs = AS_SYSTEM_TIMEOUT_SECS;
            let mut it = rest.iter();
            while let Some(a) = it.next() {
                let (flag, inline) = split_inline(a);
                match flag {
                    "--timeout" => {
                        timeout_secs = positive_secs(inline.or_else(|| it.next().copied()))
                            .map_err(|m| err(Some("as-system"), m))?
                    }
                    other => {
                        return Err(err(
                            Some("as-system"),
                            format!("unexpected argument {other:?} (the bindprobe arguments go after --)"),
                        ));
                    }
                }
            }
            let args = match child {
                Some(c) if !c.is_empty() => c.to_vec(),
                _ => return Err(err(Some("as-system"), "expected -- BINDPROBE_ARGS...".into())),
            };
            if args.first().map(String::as_str) == Some("as-system") {
                return Err(err(Some("as-system"), "as-system cannot run as-system".into()));
            }
            Command::AsSystem(AsSystemArgs { timeout_secs, args })
        }
        other => {
            return Err(err(known(other), format!("unknown command {other:?}")));
        }
    };
    if child.is_some() && !matches!(command, Command::InSilo(_) | Command::AsSystem(_)) {
        return Err(err(
            Some(command.name()),
            "`--` is only meaningful for in-silo and as-system".into(),
        ));
    }
    Ok(Invocation {
        text,
        report_file,
        command,
    })
}

/// `--flag=value` as `("--flag", Some("value"))`.
fn split_inline(a: &str) -> (&str, Option<&str>) {
    match a.split_once('=') {
        Some((f, v)) if f.starts_with("--") => (f, Some(v)),
        _ => (a, None),
    }
}

fn positive_secs(v: Option<&str>) -> Result<u64, String> {
    match v.and_then(|v| v.parse::<u64>().ok()) {
        Some(s) if s > 0 => Ok(s),
        _ => Err(format!("--timeout takes a positive number of seconds, got {v:?}")),
    }
}

/// The `in-silo` options before `--`, applied over hcsshim's defaults.
fn in_silo_options(rest: &[&str], a: &mut InSiloArgs) -> Result<(), String> {
    let mut it = rest.iter();
    while let Some(arg) = it.next() {
        let (flag, inline) = split_inline(arg);
        let mut value = |name: &str| {
            inline
                .or_else(|| it.next().copied())
                .filter(|v| !v.starts_with("--"))
                .map(str::to_owned)
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match flag {
            "--breakaway" => a.breakaway = true,
            "--no-breakaway" => a.breakaway = false,
            "--bare-silo" => a.hcsshim_job = false,
            "--no-rootfs-bind" => a.rootfs_bind = false,
            "--rootfs-source" => a.rootfs_source = Some(value("--rootfs-source")?),
            "--no-token-bind" => a.token_bind = false,
            "--token-bind-source" => a.token_bind_source = Some(value("--token-bind-source")?),
            "--no-cmd" => a.cmd_c = false,
            "--inherit-env" => a.hcsshim_env = false,
            "--inherit-cwd" => a.rootfs_cwd = false,
            "--id" => {
                let id = value("--id")?;
                let valid = !id.is_empty()
                    && id.len() <= 64
                    && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
                if !valid {
                    return Err(format!("--id takes up to 64 letters, digits, - and _, got {id:?}"));
                }
                a.id = Some(id);
            }
            "--token" => {
                a.token = match value("--token").ok().as_deref() {
                    Some("inherit") => Token::Inherit,
                    Some("system-service") => Token::SystemService,
                    other => return Err(format!("--token takes inherit or system-service, got {other:?}")),
                }
            }
            "--silo-bind" => match (it.next(), it.next()) {
                (Some(src), Some(dst)) if inline.is_none() => a.silo_binds.push(((*src).to_owned(), (*dst).to_owned())),
                _ => return Err("--silo-bind takes SRC and DST".into()),
            },
            "--assign" => {
                let v = inline.or_else(|| it.next().copied());
                a.assign = match v {
                    Some("job-list") => Assign::JobList,
                    Some("suspended") => Assign::Suspended,
                    other => return Err(format!("--assign takes job-list or suspended, got {other:?}")),
                };
            }
            "--timeout" => a.timeout_secs = Some(positive_secs(inline.or_else(|| it.next().copied()))?),
            other => return Err(format!("unexpected argument {other:?} (the program goes after --)")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(args: &[&str]) -> Invocation {
        parse(args.iter().copied()).unwrap()
    }

    fn usage(args: &[&str]) -> UsageError {
        parse(args.iter().copied()).unwrap_err()
    }

    #[test]
    fn bind_defaults_to_read_only_like_the_seed() {
        let inv = ok(&["bind", r"C:\buildkitd\src-test", r"C:\buildkitd\dst-test"]);
        assert!(!inv.text);
        assert_eq!(
            inv.command,
            Command::Bind(BindArgs {
                source: r"C:\buildkitd\src-test".into(),
                root: r"C:\buildkitd\dst-test".into(),
                read_only: true,
                enable_privileges: false,
            })
        );
        let Command::Bind(p) = ok(&["bind", "a", "b", "--enable-privileges"]).command else {
            panic!()
        };
        assert!(p.enable_privileges && p.read_only);
        let Command::Bind(b) = ok(&["--text", "bind", "a", "b", "--rw"]).command else {
            panic!()
        };
        assert!(!b.read_only);
    }

    #[test]
    fn text_is_global() {
        assert!(ok(&["context", "--text"]).text);
        assert!(ok(&["--text", "context"]).text);
    }

    #[test]
    fn layer_takes_parents_and_defaults_to_rw() {
        let Command::Layer(l) = ok(&[
            "layer",
            r"C:\snap\2",
            r"C:\mnt",
            "--parent",
            r"C:\snap\1",
            "--parent=C:\\snap\\0",
        ])
        .command
        else {
            panic!()
        };
        assert_eq!(l.parents, [r"C:\snap\1", r"C:\snap\0"]);
        assert!(!l.read_only);
        assert_eq!(l.layer, r"C:\snap\2");
        assert!(usage(&["layer", "a", "b", "--parent"]).message.contains("--parent"));
    }

    #[test]
    fn in_silo_keeps_the_child_command_line_verbatim() {
        let Command::InSilo(s) = ok(&[
            "--text",
            "in-silo",
            "--assign",
            "suspended",
            "--timeout=30",
            "--",
            "bindprobe",
            "--text",
            "bind",
            "a",
            "b",
            "--",
            "--rw",
        ])
        .command
        else {
            panic!()
        };
        assert_eq!(s.assign, Assign::Suspended);
        assert_eq!(s.timeout_secs, Some(30));
        // hcsshim always passes CREATE_BREAKAWAY_FROM_JOB: the default now; `--no-breakaway` drops it.
        assert!(s.breakaway);
        assert_eq!(s.program, "bindprobe");
        assert_eq!(s.args, ["--text", "bind", "a", "b", "--", "--rw"]);
        let Command::InSilo(b) = ok(&["in-silo", "--silo-bind", r"C:\rootfs", r"C:\hpc", "--", "x"]).command else {
            panic!()
        };
        assert_eq!(b.silo_binds, [(r"C:\rootfs".to_owned(), r"C:\hpc".to_owned())]);
        assert!(
            usage(&["in-silo", "--silo-bind", "only", "--", "x"])
                .message
                .contains("SRC and DST")
        );
        let Command::InSilo(d) = ok(&["in-silo", "--breakaway", "--", "x"]).command else {
            panic!()
        };
        assert_eq!((d.assign, d.breakaway, d.args.len()), (Assign::JobList, true, 0));
    }

    #[test]
    fn usage_errors_name_the_command() {
        let e = usage(&["bind", "only-one"]);
        assert_eq!(e.command, Some("bind"));
        assert!(e.message.contains("1 argument"));
        assert_eq!(usage(&[]).command, None);
        assert_eq!(usage(&["frobnicate"]).command, None);
        assert_eq!(usage(&["in-silo"]).command, Some("in-silo"));
        assert_eq!(usage(&["in-silo", "--"]).command, Some("in-silo"));
        assert!(usage(&["in-silo", "prog"]).message.contains("after --"));
        assert!(
            usage(&["in-silo", "--timeout", "0", "--", "x"])
                .message
                .contains("--timeout")
        );
        assert!(
            usage(&["in-silo", "--assign", "magic", "--", "x"])
                .message
                .contains("job-list")
        );
        assert_eq!(usage(&["context", "extra"]).command, Some("context"));
        assert_eq!(usage(&["bind", "a", "b", "--force"]).command, Some("bind"));
        assert!(usage(&["context", "--", "x"]).message.contains("in-silo"));
        assert!(usage(&["--text", "bind"]).text);
    }

    #[test]
    fn help_and_version() {
        assert_eq!(ok(&["--help"]).command, Command::Help);
        assert_eq!(ok(&["bind", "-h"]).command, Command::Help);
        assert_eq!(ok(&["help"]).command, Command::Help);
        assert_eq!(ok(&["--version"]).command, Command::Version);
        // After `--`, -h belongs to the child.
        let Command::InSilo(s) = ok(&["in-silo", "--", "prog", "-h"]).command else {
            panic!()
        };
        assert_eq!(s.args, ["-h"]);
    }
}
