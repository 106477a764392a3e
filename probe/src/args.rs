//! Command-line parsing for `bindprobe` (a small hand parser: the probe is uploaded to nodes and stays
//! dependency-light).

/// The usage text, printed by `--help` and after a usage error.
pub const USAGE: &str = "\
usage: bindprobe [--text] <command> [options]

commands:
  bind SRC DST [--rw] [--enable-privileges]
      go-winio ApplyFileBinding(DST, SRC, readOnly) as buildkit calls it: MkdirAll(Dir(DST)),
      BfSetupFilter(NULL job, NO_MULTIPLE_TARGETS | READ_ONLY_MAPPING (unless --rw), DST, SRC).
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
  in-silo [--assign job-list|suspended] [--breakaway] [--timeout SECS] [--silo-bind SRC DST]...
          -- PROGRAM [ARGS...]
      Create a kill-on-close job, promote it to a silo (JobObjectCreateSilo), optionally bind SRC
      at DST for the silo only (BfSetupFilter(job, USE_CURRENT_SILO_MAPPING), as HostProcess
      containers bind their rootfs at C:\\hpc), start PROGRAM in it (PROC_THREAD_ATTRIBUTE_JOB_LIST,
      or suspended + AssignProcessToJobObject + ResumeThread), relay its output and exit code.
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

/// `in-silo [options] -- PROGRAM ARGS...`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InSiloArgs {
    /// How the child joins the silo.
    pub assign: Assign,
    /// `--breakaway`: `CREATE_BREAKAWAY_FROM_JOB`, for when bindprobe itself runs in a job.
    pub breakaway: bool,
    /// `--timeout SECS`: terminate the silo's job after this long.
    pub timeout_secs: Option<u64>,
    /// `--silo-bind SRC DST`: silo-only bindings made before the child starts, `(source, root)`.
    pub silo_binds: Vec<(String, String)>,
    /// The program to start.
    pub program: String,
    /// Its arguments.
    pub args: Vec<String>,
}

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
        }
    }
}

/// The whole command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invocation {
    /// `--text`: readable text instead of JSON.
    pub text: bool,
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
    ["bind", "layer", "context", "in-silo", "help", "version"]
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
    let words: Vec<&str> = ours.iter().map(String::as_str).filter(|a| *a != "--text").collect();
    let err = |command: Option<&'static str>, message: String| UsageError { command, message, text };

    if words.iter().any(|a| *a == "--help" || *a == "-h") {
        return Ok(Invocation {
            text,
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
            let mut assign = Assign::JobList;
            let mut breakaway = false;
            let mut timeout_secs = None;
            let mut silo_binds = Vec::new();
            let mut it = rest.iter();
            while let Some(a) = it.next() {
                let (flag, inline) = match a.split_once('=') {
                    Some((f, v)) if f.starts_with("--") => (f, Some(v)),
                    _ => (*a, None),
                };
                match flag {
                    "--breakaway" => breakaway = true,
                    "--silo-bind" => match (it.next(), it.next()) {
                        (Some(src), Some(dst)) if inline.is_none() => {
                            silo_binds.push(((*src).to_owned(), (*dst).to_owned()))
                        }
                        _ => {
                            return Err(err(Some("in-silo"), "--silo-bind takes SRC and DST".into()));
                        }
                    },
                    "--assign" => {
                        let v = inline.or_else(|| it.next().copied());
                        assign = match v {
                            Some("job-list") => Assign::JobList,
                            Some("suspended") => Assign::Suspended,
                            other => {
                                return Err(err(
                                    Some("in-silo"),
                                    format!("--assign takes job-list or suspended, got {other:?}"),
                                ));
                            }
                        };
                    }
                    "--timeout" => {
                        let v = inline.or_else(|| it.next().copied());
                        match v.and_then(|v| v.parse::<u64>().ok()) {
                            Some(s) if s > 0 => timeout_secs = Some(s),
                            _ => {
                                return Err(err(
                                    Some("in-silo"),
                                    format!("--timeout takes a positive number of seconds, got {v:?}"),
                                ));
                            }
                        }
                    }
                    other => {
                        return Err(err(
                            Some("in-silo"),
                            format!("unexpected argument {other:?} (the program goes after --)"),
                        ));
                    }
                }
            }
            let Some((program, args)) = child.and_then(|c| c.split_first()) else {
                return Err(err(Some("in-silo"), "expected -- PROGRAM [ARGS...]".into()));
            };
            Command::InSilo(InSiloArgs {
                assign,
                breakaway,
                timeout_secs,
                silo_binds,
                program: program.clone(),
                args: args.to_vec(),
            })
        }
        other => {
            return Err(err(known(other), format!("unknown command {other:?}")));
        }
    };
    if child.is_some() && !matches!(command, Command::InSilo(_)) {
        return Err(err(Some(command.name()), "`--` is only meaningful for in-silo".into()));
    }
    Ok(Invocation { text, command })
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
        assert!(!s.breakaway);
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
