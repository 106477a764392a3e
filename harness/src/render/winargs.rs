//! Windows command lines: quoting an argv so CommandLineToArgvW gives back exactly those arguments.
//!
//! A Windows program receives one string and splits it itself, by the MSVC C runtime rules (Go programs such as
//! buildkitd.exe follow the same rules). The quoted form never puts two quotes in a row inside a quoted region, so
//! the pre-2008 and post-2008 readings of `""` agree on it. The quoting and the reading are bindprobe's
//! (`bindprobe::cmdline`), the same the probe uses for the programs it starts.

use bindprobe::cmdline::quote_arg;

/// The command line (after the program name) that gives the program exactly `args`.
pub fn command_line<S: AsRef<str>>(args: &[S]) -> String {
    args.iter()
        .map(|arg| quote_arg(arg.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use bindprobe::cmdline::quote_arg as quote;
    use proptest::prelude::*;

    pub(crate) use bindprobe::cmdline::{split, split_with};

    fn round_trips(args: &[&str]) {
        let line = command_line(args);
        for post_2008 in [true, false] {
            assert_eq!(split_with(&line, post_2008), args, "{line}");
        }
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
