//! Building a `CreateProcessW` command line from an argv, so the child's `CommandLineToArgvW` (and the C/Rust/Go
//! runtimes) get back exactly the arguments `in-silo` was given; and reading one back by those rules.

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

/// How a program reads `line` (the part after its name), by the CommandLineToArgvW / msvcrt rules:
/// 2n backslashes and a quote give n backslashes and toggle quoting, 2n+1 backslashes and a quote give n
/// backslashes and a literal quote, other backslashes are literal, space and tab separate outside quotes.
/// `""` inside quotes is a literal quote; `post_2008` keeps the region quoted after it (msvcrt since 2008),
/// otherwise it ends the region (older msvcrt, and Go's os.Args).
pub fn split_with(line: &str, post_2008: bool) -> Vec<String> {
    let mut args = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while matches!(chars.peek(), Some(' ' | '\t')) {
            chars.next();
        }
        if chars.peek().is_none() {
            return args;
        }
        let mut arg = String::new();
        let mut quoted = false;
        while let Some(&c) = chars.peek() {
            if matches!(c, ' ' | '\t') && !quoted {
                break;
            }
            chars.next();
            match c {
                '\\' => {
                    let mut backslashes = 1;
                    while chars.peek() == Some(&'\\') {
                        chars.next();
                        backslashes += 1;
                    }
                    if chars.peek() == Some(&'"') {
                        arg.extend(std::iter::repeat_n('\\', backslashes / 2));
                        if backslashes % 2 == 1 {
                            chars.next();
                            arg.push('"');
                        }
                    } else {
                        arg.extend(std::iter::repeat_n('\\', backslashes));
                    }
                }
                '"' if quoted && chars.peek() == Some(&'"') => {
                    chars.next();
                    arg.push('"');
                    quoted = post_2008;
                }
                '"' => quoted = !quoted,
                _ => arg.push(c),
            }
        }
        args.push(arg);
    }
}

/// [`split_with`] by the post-2008 rule, as CommandLineToArgvW.
pub fn split(line: &str) -> Vec<String> {
    split_with(line, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parser_reads_the_documented_examples() {
        // The examples of Microsoft's "Parsing C command-line arguments".
        assert_eq!(split(r#""a b c" d e"#), ["a b c", "d", "e"]);
        assert_eq!(split(r#""ab\"c" "\\" d"#), [r#"ab"c"#, "\\", "d"]);
        assert_eq!(split(r#"a\\\b d"e f"g h"#), [r"a\\\b", "de fg", "h"]);
        assert_eq!(split(r#"a\\\"b c d"#), [r#"a\"b"#, "c", "d"]);
        assert_eq!(split(r#"a\\\\"b c" d e"#), [r"a\\b c", "d", "e"]);
        assert_eq!(split(r#"a"b"" c d"#), [r#"ab" c d"#]);
        assert_eq!(split_with(r#"a"b"" c d"#, false), [r#"ab""#, "c", "d"]);
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
        assert_eq!(split(rest), args);
    }

    #[test]
    fn rejects_what_cannot_be_expressed() {
        assert_eq!(command_line("", &[]), Err(CommandLineError::EmptyProgram));
        assert_eq!(command_line("a\"b", &[]), Err(CommandLineError::QuoteInProgram));
        assert_eq!(command_line("a", &["x\0".to_owned()]), Err(CommandLineError::Nul));
        assert_eq!(command_line("bindprobe", &[]).unwrap(), "bindprobe");
    }
}
