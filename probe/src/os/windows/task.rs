//! `as-system`: run bindprobe as NT AUTHORITY\SYSTEM through a one-shot scheduled task (schtasks.exe), hand its report back through a file, delete the task.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::args::AsSystemArgs;
use crate::report::{Failure, Recorder, Report, Step, TaskInfo};
use crate::{hostprocess, task};

/// Runs `schtasks.exe args`, recorded as `name`; true when it exited 0.
fn schtasks(rec: &mut Recorder, name: &str, args: &[String], fatal: bool) -> bool {
    let schtasks = super::system32().join("schtasks.exe");
    let detail = Some(format!("schtasks {}", args.join(" ")));
    match Command::new(&schtasks).args(args).output() {
        Ok(out) if out.status.success() => {
            rec.ok(name, detail);
            true
        }
        Ok(out) => {
            let text = format!(
                "schtasks {} exited {:?}: {}{}",
                args.first().map(String::as_str).unwrap_or_default(),
                out.status.code(),
                String::from_utf8_lossy(&out.stderr).trim(),
                String::from_utf8_lossy(&out.stdout).trim()
            );
            let step = Step::failed(name, text.clone(), detail);
            if fatal {
                rec.fail(step, text, Failure::Setup)
            } else {
                rec.note(step)
            }
            false
        }
        Err(e) => {
            let err = super::io_win_error(&e);
            let text = format!("start {}: {}", schtasks.display(), super::go_text(err));
            let step = super::win_step(name, err, detail);
            if fatal {
                rec.fail(step, text, Failure::Setup)
            } else {
                rec.note(step)
            }
            false
        }
    }
}

/// `as-system [--timeout SECS] -- ARGS...`.
pub fn as_system(a: &AsSystemArgs) -> Report {
    let mut rec = Recorder::new();
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let id = hostprocess::new_id(nanos, std::process::id());
    let dir: PathBuf = std::env::temp_dir().join(format!("bindprobe-as-system-{id}"));
    let report_file = dir.join("report.json");
    let mut info = TaskInfo {
        name: task::task_name(&id),
        principal: task::SYSTEM_SID.to_owned(),
        report_file: report_file.display().to_string(),
        ..TaskInfo::default()
    };
    let exit = run(a, &mut rec, &mut info, &dir);
    // Best effort: the folder holds only the task definition and the report.
    let _ = std::fs::remove_dir_all(&dir);
    let mut report = rec.finish("as-system");
    if let (Some(code), None) = (exit, &report.failed_step) {
        report.exit_code = code;
        report.ok = code == 0;
    }
    report.task = Some(info);
    report
}

fn run(a: &AsSystemArgs, rec: &mut Recorder, info: &mut TaskInfo, dir: &std::path::Path) -> Option<i32> {
    let exe = match std::env::current_exe() {
        Ok(p) => p.display().to_string(),
        Err(e) => {
            let err = super::io_win_error(&e);
            rec.fail(super::win_step("current_exe", err, None), e.to_string(), Failure::Setup);
            return None;
        }
    };
    let arguments = match task::arguments_line(&task::task_args(&info.report_file, &a.args)) {
        Ok(line) => line,
        Err(e) => {
            rec.fail(
                Step::failed("task_arguments", e.to_string(), None),
                e.to_string(),
                Failure::Setup,
            );
            return None;
        }
    };
    let xml_file = dir.join("task.xml");
    let xml = task::task_xml(&exe, &arguments, a.timeout_secs);
    let written = std::fs::create_dir_all(dir).and_then(|()| std::fs::write(&xml_file, task::utf16le_with_bom(&xml)));
    if let Err(e) = written {
        let err = super::io_win_error(&e);
        rec.fail(
            super::win_step("write_task_xml", err, Some(xml_file.display().to_string())),
            format!("write {}: {}", xml_file.display(), super::go_text(err)),
            Failure::Setup,
        );
        return None;
    }
    rec.ok("write_task_xml", Some(xml_file.display().to_string()));
    let xml_path = xml_file.display().to_string();
    if !schtasks(
        rec,
        "schtasks_create",
        &task::schtasks_create(&info.name, &xml_path),
        true,
    ) {
        return None;
    }
    info.registered = true;
    let mut code = None;
    if schtasks(rec, "schtasks_run", &task::schtasks_run(&info.name), true) {
        info.started = true;
        code = wait_for_report(rec, info, a.timeout_secs);
    }
    info.deleted = schtasks(rec, "schtasks_delete", &task::schtasks_delete(&info.name), false);
    code
}

/// Waits for the task's bindprobe to rename its report into place; reads it and returns its exit code.
fn wait_for_report(rec: &mut Recorder, info: &mut TaskInfo, timeout_secs: u64) -> Option<i32> {
    let deadline = Instant::now() + Duration::from_secs(timeout_secs);
    loop {
        if let Ok(text) = std::fs::read_to_string(&info.report_file) {
            return match serde_json::from_str::<serde_json::Value>(&text) {
                Ok(v) => {
                    let code = v["exit_code"].as_i64().map_or(crate::report::exit::SETUP, |c| c as i32);
                    rec.ok("read_report", Some(format!("exit code {code}")));
                    info.report = Some(v);
                    Some(code)
                }
                Err(e) => {
                    rec.fail(
                        Step::failed("read_report", e.to_string(), Some(info.report_file.clone())),
                        format!("the SYSTEM task's report is not JSON: {e}"),
                        Failure::Setup,
                    );
                    None
                }
            };
        }
        if Instant::now() >= deadline {
            info.timed_out = true;
            rec.fail(
                Step::failed(
                    "read_report",
                    "no report before the timeout",
                    Some(info.report_file.clone()),
                ),
                format!("the SYSTEM task wrote no report within {timeout_secs} s"),
                Failure::Setup,
            );
            return None;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}
