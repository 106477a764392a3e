//! Building a `CreateProcessW` command line from an argv, so the child's `CommandLineToArgvW` (and the C/Rust/Go
//! runtimes) get back exactly the arguments `in-silo` was given.

/// Quotes one argument for the MSVC/`CommandLineToArgvW` rules: left alone when it has no space, tab,
/// newline or quote; otherwise wrapped in quotes, with backslashes doubled only where they precede a
/// quote (or the closing quote) and quotes escaped as `\"`.
pub fn quote_arg(arg: &str) -> String {
    let needs_quotes = arg.is_empty() || arg.contains([' ', '\t', '\n', '\u{0B}', '"']);
    if !needs_quotes {
        return arg.to_owned();
    }
    let mut out = String::with_capacity(arg.len() + 2);
    out.push('"');
    let mut backslashes = 0usize;
    for c in arg.chars() {
        match c {
            '\\' => backslashes += 1,
            '"' => {
                out.extend(std::iter::repeat_n('\\', backslashes * 2 + 1));
                out.push('"');
                backslashes = 0;
            }
            c => {
                out.extend(std::iter::repeat_n('\\', backslashes));
                out.push(c);
                backslashes = 0;
            }
        }
    }
    out.extend(std::iter::repeat_n('\\', backslashes * 2));
    out.push('"');
    out
}

/// Why a program name cannot be put on a command line.
#[derive(Debug, PartialEq, Eq)]
pub enum CommandLineError {
    /// Empty program name.
    EmptyProgram,
    /// The program name holds a `"`: the first token of a command line has no escape for it.
    QuoteInProgram,
    /// An argument holds a NUL character.
    Nul,
}

impl std::fmt::Display for CommandLineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::EmptyProgram => "the program name is empty",
            Self::QuoteInProgram => "the program name contains a double quote",
            Self::Nul => "an argument contains a NUL character",
        })
    }
}

/// The full command line: the program (quoted when it has a space or tab; the first token is parsed
/// without backslash escapes) followed by each argument quoted with [`quote_arg`].
pub fn command_line(program: &str, args: &[String]) -> Result<String, CommandLineError> {
    if program.is_empty() {
        return Err(CommandLineError::EmptyProgram);
    }
    if program.contains('"') {
        return Err(CommandLineError::QuoteInProgram);
    }
    if program.contains('\0') || args.iter().any(|a| a.contains('\0')) {
        return Err(CommandLineError::Nul);
    }
    let mut line = if program.contains([' ', '\t']) {
        format!("\"{program}\"")
    } else {
        program.to_owned()
    };
    for arg in args {
        line.push(' ');
        line.push_str(&quote_arg(arg));
    }
    Ok(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The MSVC / `CommandLineToArgvW` splitting rules for arguments after the first, to check that
    /// quoting round-trips.
    fn split_args(line: &str) -> Vec<String> {
        let chars: Vec<char> = line.chars().collect();
        let mut args = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            while i < chars.len() && (chars[i] == ' ' || chars[i] == '\t') {
                i += 1;
            }
            if i >= chars.len() {
                break;
            }
            let mut arg = String::new();
            let mut in_quotes = false;
            while i < chars.len() {
                let c = chars[i];
                if c == '\\' {
                    let start = i;
                    while i < chars.len() && chars[i] == '\\' {
                        i += 1;
                    }
                    let n = i - start;
                    if i < chars.len() && chars[i] == '"' {
                        arg.extend(std::iter::repeat_n('\\', n / 2));
                        if n % 2 == 1 {
                            arg.push('"');
                            i += 1;
                        }
                    } else {
                        arg.extend(std::iter::repeat_n('\\', n));
                    }
                    continue;
                }
                if c == '"' {
                    if in_quotes && i + 1 < chars.len() && chars[i + 1] == '"' {
                        arg.push('"');
                        i += 2;
                        continue;
                    }
                    in_quotes = !in_quotes;
                    i += 1;
                    continue;
                }
                if !in_quotes && (c == ' ' || c == '\t') {
                    break;
                }
                arg.push(c);
                i += 1;
            }
            args.push(arg);
        }
        args
    }

    #[test]
    fn plain_args_are_left_alone() {
        assert_eq!(quote_arg("context"), "context");
        assert_eq!(quote_arg(r"C:\buildkitd\src-test"), r"C:\buildkitd\src-test");
        assert_eq!(quote_arg(r"C:\dir\"), r"C:\dir\");
    }

    #[test]
    fn spaces_quotes_and_backslashes() {
        assert_eq!(quote_arg(""), r#""""#);
        assert_eq!(quote_arg("a b"), r#""a b""#);
        assert_eq!(quote_arg(r"C:\Program Files\"), r#""C:\Program Files\\""#);
        assert_eq!(quote_arg(r#"say "hi""#), r#""say \"hi\"""#);
        assert_eq!(quote_arg(r#"a\"b"#), r#""a\\\"b""#);
    }

    #[test]
    fn round_trips() {
        let args: Vec<String> = [
            "bind",
            r"C:\Program Files\x\",
            "",
            r#"q"uo\"te"#,
            "tab\there",
            r"\\?\Volume{x}\",
            "plain",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let line = command_line(r"C:\tools dir\bindprobe.exe", &args).unwrap();
        assert!(line.starts_with(r#""C:\tools dir\bindprobe.exe" "#));
        let rest = &line[r#""C:\tools dir\bindprobe.exe""#.len()..];
        assert_eq!(split_args(rest), args);
    }

    #[test]
    fn rejects_what_cannot_be_expressed() {
        assert_eq!(command_line("", &[]), Err(CommandLineError::EmptyProgram));
        assert_eq!(command_line("a\"b", &[]), Err(CommandLineError::QuoteInProgram));
        assert_eq!(command_line("a", &["x\0".to_owned()]), Err(CommandLineError::Nul));
        assert_eq!(command_line("bindprobe", &[]).unwrap(), "bindprobe");
    }
}
