//! Windows command lines: quoting an argv so CommandLineToArgvW gives back exactly those arguments.
//!
//! A Windows program receives one string and splits it itself, by the MSVC C runtime rules (Go programs such as
//! buildkitd.exe follow the same rules). The quoted form never puts two quotes in a row inside a quoted region, so
//! the pre-2008 and post-2008 readings of `""` agree on it.

/// `arg` as one argument of a command line: as is when nothing in it needs quoting, otherwise in quotes with each
/// quote escaped and the backslashes before a quote (or before the closing quote) doubled.
pub fn quote(arg: &str) -> String {
    if !arg.is_empty() && !arg.contains([' ', '\t', '\n', '\u{b}', '"']) {
        return arg.to_owned();
    }
    let mut quoted = String::with_capacity(arg.len() + 2);
    quoted.push('"');
    let mut backslashes = 0;
    for c in arg.chars() {
        match c {
            '\\' => backslashes += 1,
            '"' => {
                quoted.extend(std::iter::repeat_n('\\', 2 * backslashes + 1));
                quoted.push('"');
                backslashes = 0;
            }
            _ => {
                quoted.extend(std::iter::repeat_n('\\', backslashes));
                quoted.push(c);
                backslashes = 0;
            }
        }
    }
    quoted.extend(std::iter::repeat_n('\\', 2 * backslashes));
    quoted.push('"');
    quoted
}

/// The command line (after the program name) that gives the program exactly `args`.
pub fn command_line<S: AsRef<str>>(args: &[S]) -> String {
    args.iter().map(|arg| quote(arg.as_ref())).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// How a program reads `line` (the part after its name), by the CommandLineToArgvW / msvcrt rules:
    /// 2n backslashes and a quote give n backslashes and toggle quoting, 2n+1 backslashes and a quote give n
    /// backslashes and a literal quote, other backslashes are literal, space and tab separate outside quotes.
    /// `""` inside quotes is a literal quote; `post_2008` keeps the region quoted after it (msvcrt since 2008),
    /// otherwise it ends the region (older msvcrt, and Go's os.Args).
    pub(crate) fn split_with(line: &str, post_2008: bool) -> Vec<String> {
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
    pub(crate) fn split(line: &str) -> Vec<String> {
        split_with(line, true)
    }

    fn round_trips(args: &[&str]) {
        let line = command_line(args);
        for post_2008 in [true, false] {
            assert_eq!(split_with(&line, post_2008), args, "{line}");
        }
    }

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
    fn plain_arguments_are_left_alone() {
        assert_eq!(quote("--addr"), "--addr");
        assert_eq!(quote(r"C:\buildkitd\bin\"), r"C:\buildkitd\bin\");
        assert_eq!(quote(""), r#""""#);
        assert_eq!(quote(r"C:\dir with space\"), r#""C:\dir with space\\""#);
        assert_eq!(quote(r#"a\\"b"#), r#""a\\\\\"b""#);
    }

    #[test]
    fn hostile_values_round_trip_exactly() {
        round_trips(&["--log-file=\" --addr \"tcp://0.0.0.0:4444"]);
        round_trips(&[r#"" --addr "tcp://0.0.0.0:4444"#, "--debug"]);
        round_trips(&[r"C:\dir with space\", "next"]);
        round_trips(&[r"C:\trailing\\", r"C:\trailing\ space\\\", r"\\"]);
        round_trips(&[r#"a\\"b"#, r#"a\"b"#, r#"\""#, r#"""""#]);
        round_trips(&["", "x", "", ""]);
        round_trips(&["tab\there", "\t", "new\nline", "vertical\u{b}tab", "\r\n"]);
        round_trips(&["ünïcödé €", "日本語 テキスト", "🦀\\\"🦀"]);
        round_trips(&[]);
    }

    fn argument() -> impl Strategy<Value = String> {
        // Arbitrary text, and text made mostly of the characters that matter to the rules.
        prop_oneof!["[^\u{0}]{0,24}", "[\\\\\" \ta\n]{0,16}"]
    }

    proptest! {
        #[test]
        fn any_argv_without_nul_round_trips(args in prop::collection::vec(argument(), 0..8)) {
            let line = command_line(&args);
            prop_assert_eq!(&split(&line), &args);
            prop_assert_eq!(&split_with(&line, false), &args);
        }
    }
}
