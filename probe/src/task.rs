//! `as-system` as plain data: the one-shot scheduled task (Task Scheduler 1.2 XML, a SYSTEM principal) that runs bindprobe with the caller's arguments and a report file.

use crate::cmdline::{self, CommandLineError};

/// The SYSTEM account's SID, the task's principal.
pub const SYSTEM_SID: &str = "S-1-5-18";

/// The task's name: `bindprobe-as-system-<id>` in the root folder.
pub fn task_name(id: &str) -> String {
    format!("bindprobe-as-system-{id}")
}

/// The arguments the task gives bindprobe: `--report-file FILE` and then the caller's.
pub fn task_args(report_file: &str, args: &[String]) -> Vec<String> {
    let mut all = vec!["--report-file".to_owned(), report_file.to_owned()];
    all.extend(args.iter().cloned());
    all
}

/// The task's `<Arguments>`: `args` quoted as `CreateProcess` reads them back.
pub fn arguments_line(args: &[String]) -> Result<String, CommandLineError> {
    // command_line quotes the program too; a plain placeholder is cut off again.
    let line = cmdline::command_line("x", args)?;
    Ok(line.strip_prefix("x ").unwrap_or_default().to_owned())
}

/// XML text escaping for element content.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// The task definition: run `command arguments` once, on demand, as SYSTEM with the highest run level, on
/// battery too, never twice at once, stopped after `limit_secs`.
pub fn task_xml(command: &str, arguments: &str, limit_secs: u64) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-16"?>
<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">
  <RegistrationInfo>
    <Description>bindprobe as-system: one run, deleted afterwards</Description>
  </RegistrationInfo>
  <Principals>
    <Principal id="Author">
      <UserId>{SYSTEM_SID}</UserId>
      <RunLevel>HighestAvailable</RunLevel>
    </Principal>
  </Principals>
  <Settings>
    <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>
    <DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>
    <StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>
    <AllowHardTerminate>true</AllowHardTerminate>
    <StartWhenAvailable>false</StartWhenAvailable>
    <AllowStartOnDemand>true</AllowStartOnDemand>
    <Enabled>true</Enabled>
    <Hidden>false</Hidden>
    <ExecutionTimeLimit>PT{limit_secs}S</ExecutionTimeLimit>
    <Priority>7</Priority>
  </Settings>
  <Actions Context="Author">
    <Exec>
      <Command>{}</Command>
      <Arguments>{}</Arguments>
    </Exec>
  </Actions>
</Task>
"#,
        xml_escape(command),
        xml_escape(arguments)
    )
}

/// The XML as schtasks reads a UTF-16 file: little-endian with a byte-order mark.
pub fn utf16le_with_bom(text: &str) -> Vec<u8> {
    let mut out = vec![0xFF, 0xFE];
    for unit in text.encode_utf16() {
        out.extend_from_slice(&unit.to_le_bytes());
    }
    out
}

/// `schtasks.exe` arguments: register from the XML file, run, delete.
pub fn schtasks_create(name: &str, xml_file: &str) -> Vec<String> {
    ["/Create", "/TN", name, "/XML", xml_file, "/F"]
        .map(str::to_owned)
        .to_vec()
}

/// `schtasks /Run /TN name`.
pub fn schtasks_run(name: &str) -> Vec<String> {
    ["/Run", "/TN", name].map(str::to_owned).to_vec()
}

/// `schtasks /Delete /TN name /F`.
pub fn schtasks_delete(name: &str) -> Vec<String> {
    ["/Delete", "/TN", name, "/F"].map(str::to_owned).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_task_runs_bindprobe_with_the_same_arguments_as_system() {
        let args: Vec<String> = [
            "in-silo",
            "--token",
            "system-service",
            "--",
            r"C:\b p\bindprobe.exe",
            "bind",
            r"C:\s",
            r"C:\d",
            "--rw",
        ]
        .map(str::to_owned)
        .to_vec();
        let all = task_args(r"C:\t\report.json", &args);
        assert_eq!(all[..2], ["--report-file", r"C:\t\report.json"]);
        assert_eq!(all[2..], args[..]);
        let line = arguments_line(&all).unwrap();
        assert_eq!(
            line,
            r#"--report-file C:\t\report.json in-silo --token system-service -- "C:\b p\bindprobe.exe" bind C:\s C:\d --rw"#
        );
        // CreateProcess reads the same arguments back.
        assert_eq!(cmdline::split(&format!("x {line}"))[1..], all[..]);
        let xml = task_xml(r"C:\b p\bindprobe.exe", &line, 600);
        assert!(xml.contains("<UserId>S-1-5-18</UserId>"));
        assert!(xml.contains(r"<Command>C:\b p\bindprobe.exe</Command>"));
        assert!(xml.contains("&quot;C:\\b p\\bindprobe.exe&quot;"));
        assert!(xml.contains("<ExecutionTimeLimit>PT600S</ExecutionTimeLimit>"));
        assert!(xml.contains("<DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>"));
        assert_eq!(xml_escape("a<b>&'\""), "a&lt;b&gt;&amp;&apos;&quot;");
        let bytes = utf16le_with_bom("<T");
        assert_eq!(bytes, [0xFF, 0xFE, b'<', 0, b'T', 0]);
        assert_eq!(task_name("1a"), "bindprobe-as-system-1a");
        assert_eq!(
            schtasks_create("n", "f.xml"),
            ["/Create", "/TN", "n", "/XML", "f.xml", "/F"]
        );
        assert_eq!(schtasks_run("n"), ["/Run", "/TN", "n"]);
        assert_eq!(schtasks_delete("n"), ["/Delete", "/TN", "n", "/F"]);
    }
}
