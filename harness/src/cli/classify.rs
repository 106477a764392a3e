//! `harness classify [FILE|-]`: prints the class and facts of raw failure text.

use std::io::{BufReader, Write};
use std::path::PathBuf;

use crate::classify::{Classification, DeclaredRules, classify_reader_with};
use crate::exit::Exit;

/// Arguments of `harness classify`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The text to classify; `-` or nothing reads standard input.
    file: Option<PathBuf>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// Apply declared classes too: a shared class file (`classes: [...]`, as under a repository's `classes/`) or a
    /// scenario (its own `classes:` and its repository's `classes/` files). May be given more than once.
    #[arg(long = "classes", value_name = "FILE")]
    classes: Vec<PathBuf>,
}

/// Classifies the file or standard input and prints the result: text by default, one JSON object with `--json`.
/// Exits 0 whatever the class (the class is the output), 2 when the input cannot be read.
pub fn run(args: Args) -> Exit {
    let declared = match declared(&args.classes) {
        Ok(declared) => declared,
        Err(exit) => return exit,
    };
    let classify_reader = |reader: Box<dyn std::io::BufRead>| classify_reader_with(reader, &declared);
    let result = match args.file.as_deref() {
        None => classify_reader(Box::new(std::io::stdin().lock())),
        Some(path) if path.as_os_str() == "-" => classify_reader(Box::new(std::io::stdin().lock())),
        // A FIFO, device or socket would block or never end: only regular files are read by name.
        Some(path) if std::fs::metadata(path).is_ok_and(|m| !m.is_file()) => {
            errln!(
                "harness classify: {} is not a regular file\n  help: give a file, or pipe the text into `harness classify -`",
                path.display()
            );
            return Exit::InvalidInput;
        }
        Some(path) => match std::fs::File::open(path) {
            Ok(file) => classify_reader(Box::new(BufReader::new(file))),
            Err(e) => {
                errln!("harness classify: cannot read {}: {e}", path.display());
                return Exit::InvalidInput;
            }
        },
    };
    let classification = match result {
        Ok(c) => c,
        Err(e) => {
            let what = args
                .file
                .as_deref()
                .map_or("standard input".into(), |p| p.display().to_string());
            errln!("harness classify: cannot read {what}: {e}");
            return Exit::InvalidInput;
        }
    };
    match print(&classification, args.json) {
        Ok(()) => Exit::Ok,
        // A closed pipe (`| head`) is not an error of ours.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Exit::Ok,
        Err(e) => {
            errln!("harness classify: cannot write the result: {e}");
            Exit::Infrastructure
        }
    }
}

/// The declared rules of every `--classes` file, in the order given; a class two files declare differently is
/// refused.
fn declared(files: &[PathBuf]) -> Result<DeclaredRules, Exit> {
    let mut all = DeclaredRules::default();
    for file in files {
        let rules = crate::scenario::classes::for_classify(file).map_err(|error| {
            diagln!(error.render());
            Exit::InvalidInput
        })?;
        for class in rules.classes() {
            if let Some(earlier) = all.class(class.as_str())
                && earlier != class
            {
                errln!(
                    "harness classify: class `{class}` is declared differently in {} (infrastructure {}) and before it",
                    file.display(),
                    class.is_infrastructure()
                );
                return Err(Exit::InvalidInput);
            }
        }
        all = all.then(&rules);
    }
    Ok(all)
}

fn print(classification: &Classification, json: bool) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer(&mut out, classification).map_err(std::io::Error::other)?;
        writeln!(out)
    } else {
        write!(out, "{classification}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreadable_file_is_invalid_input() {
        let args = Args {
            file: Some(PathBuf::from("/nonexistent/for/sure.log")),
            json: false,
            classes: Vec::new(),
        };
        assert_eq!(run(args), Exit::InvalidInput);
    }

    #[test]
    fn a_directory_is_invalid_input() {
        let dir = tempfile::tempdir().unwrap();
        let args = Args {
            file: Some(dir.path().to_path_buf()),
            json: true,
            classes: Vec::new(),
        };
        assert_eq!(run(args), Exit::InvalidInput);
    }

    #[test]
    fn a_readable_file_is_ok_whatever_its_class() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        std::fs::write(
            &path,
            "hcsshim::PrepareLayer - failed failed in Win32: Incorrect function. (0x1)\n",
        )
        .unwrap();
        for json in [false, true] {
            let args = Args {
                file: Some(path.clone()),
                json,
                classes: Vec::new(),
            };
            assert_eq!(run(args), Exit::Ok);
        }
    }
}
