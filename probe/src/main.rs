//! The `bindprobe` binary: parse the command line, run the subcommand, print one JSON object (or `--text`), exit with its code.

use std::io::Write;

use bindprobe::args::{self, Command, USAGE};
use bindprobe::report::{Report, exit};

fn emit(report: &Report, text: bool) {
    let out = if text {
        report.to_text()
    } else {
        let mut line = report.to_json();
        line.push('\n');
        line
    };
    let mut stdout = std::io::stdout().lock();
    // A closed stdout must not turn into a panic: the exit code still carries the result.
    let _ = stdout.write_all(out.as_bytes());
    let _ = stdout.flush();
}

/// `--report-file`: the JSON written beside FILE, then renamed onto it, so a reader never sees half a report.
fn write_report_file(file: &str, report: &Report) -> std::io::Result<()> {
    let partial = format!("{file}.partial");
    std::fs::write(&partial, report.to_json())?;
    std::fs::rename(&partial, file)
}

fn main() {
    // Lossy like Go's os.Args on Windows: unpaired surrogates become U+FFFD.
    let argv = std::env::args_os().skip(1).map(|a| a.to_string_lossy().into_owned());
    let code = match args::parse(argv) {
        Ok(inv) => match inv.command {
            Command::Help => {
                print!("{USAGE}");
                exit::OK
            }
            Command::Version => {
                println!("bindprobe {}", env!("CARGO_PKG_VERSION"));
                exit::OK
            }
            command => {
                let mut report = bindprobe::run(&command);
                if let Some(file) = &inv.report_file
                    && let Err(e) = write_report_file(file, &report)
                {
                    // The report on stdout still carries the result; the file's reader sees none.
                    eprintln!("bindprobe: cannot write the report to {file}: {e}");
                    report.steps.push(bindprobe::report::Step::failed(
                        "write_report_file",
                        e.to_string(),
                        Some(file.clone()),
                    ));
                }
                emit(&report, inv.text);
                report.exit_code
            }
        },
        Err(e) => {
            eprintln!("bindprobe: {}\n\n{USAGE}", e.message);
            emit(&Report::usage(e.command, &e.message), e.text);
            exit::USAGE
        }
    };
    std::process::exit(code);
}
