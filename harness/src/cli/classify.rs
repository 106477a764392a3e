//! `harness classify [FILE|-]`: prints the class and facts of raw failure text.

use std::path::PathBuf;

use crate::exit::Exit;

/// Arguments of `harness classify`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The text to classify; `-` or nothing reads standard input.
    file: Option<PathBuf>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(_args: Args) -> Exit {
    eprintln!("harness classify: the classifier is not built yet");
    Exit::Infrastructure
}
