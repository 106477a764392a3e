//! Cleans every text that leaves the process: secret values become `[redacted]`, control characters become escapes.
//!
//! [`secrets`] keeps the key and replaces the value, so `token: eyJ...` reads `token: [redacted]`; it is idempotent
//! and borrows when nothing changed. It leaves prose alone: after an ordinary word, a `key: word` whose value is a
//! single lowercase word (`failed to fetch anonymous token: unexpected status`) is kept.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::{Captures, Regex};
use serde_json::Value;

/// What a secret value becomes.
pub const REDACTED: &str = "[redacted]";

/// The end of a key that names a secret; any `[\w.-]` prefix may come before it (`GITHUB_TOKEN`, `clientSecret`).
const KEY: &str = r"(?:token|passw(?:or)?d|passphrase|secret|auth|authorization|dockerconfigjson|dockercfg|sig|(?:api|access|account|client|private|secret|signing|encryption|tls)[-_.]?key(?:[-_]?data)?)";

/// What may stand between a key and its value and is kept: `Some(` of Rust's Debug, an HTTP auth scheme.
const WRAP: &str = r"(?P<wrap>Some\(|(?:bearer|basic|digest|negotiate|ntlm|token)[ \t]+)?";

/// A value: a PEM block already redacted, a JSON string, a string escaped inside a JSON string, a single-quoted
/// string, the placeholder itself, or a bare word, which may not start with `never_first`.
fn value_pattern(never_first: &str) -> String {
    format!(
        r#"(?P<v>-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----\[redacted\]-----END [A-Z0-9 ]*PRIVATE KEY-----|"(?:[^"\\\n]|\\.)*"?|\\+"(?:[^"\\\n]|\\+[^"\\\n])*(?:\\+")?|'[^'\n]*'?|\[redacted\]|(?:[^\s"',;{{}}\\:{never_first}]|\\[^\s"nrt])(?:[^\s"',;{{}}\\]|\\[^\s"nrt])*)"#
    )
}

fn pattern(pattern: &str) -> Regex {
    Regex::new(pattern).unwrap_or_else(|e| panic!("redact pattern {pattern}: {e}"))
}

/// `key: value`, `key=value`, `"key": "value"`, `\"key\":\"value\"`, `--key=value`, with an optional prose word before.
static KEYED: LazyLock<Regex> = LazyLock::new(|| {
    pattern(&format!(
        r#"(?i)(?P<pre>(?-u:\b)[a-z]+ )?[\w.-]*?{KEY}(?:\\*["'])?[ \t]*[:=][ \t]*{WRAP}{}"#,
        value_pattern("")
    ))
});

/// `--key value` and `"--key", "value"`; a value starting with `-` is the next flag.
static FLAG: LazyLock<Regex> = LazyLock::new(|| {
    pattern(&format!(
        r#"(?i)--[\w-]*?{KEY}(?:(?:\\*["'])?,[ \t]*|[ \t]+){WRAP}{}"#,
        value_pattern("-")
    ))
});

static PEM: LazyLock<Regex> = LazyLock::new(|| {
    pattern(
        r"-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----(?:\[redacted\])?(?:[A-Za-z0-9+/=\s:,]|\\[nrt]|-[A-Za-z0-9])*(?:-----END [A-Z0-9 ]*PRIVATE KEY-----)?",
    )
});

static JWT: LazyLock<Regex> =
    LazyLock::new(|| pattern(r"(?-u:\b)eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*"));

/// `scheme://user:password@`; the password runs to the last `@` of the authority.
static USERINFO: LazyLock<Regex> =
    LazyLock::new(|| pattern(r#"(?i)(?-u:\b)([a-z][a-z0-9+.-]*://[^\s/?#@:"'<>\\]*):[^\s/?#"'<>]+@"#));

static BEARER: LazyLock<Regex> = LazyLock::new(|| pattern(r"(?i)(?-u:\b)(bearer[ \t]+)([A-Za-z0-9._~+/=-]+)"));

static SECRET_KEY: LazyLock<Regex> = LazyLock::new(|| pattern(&format!(r"(?i)^[\w.-]*?{KEY}$")));

/// Replaces secret values with [`REDACTED`], keeping their keys, quotes and auth schemes.
pub fn secrets(text: &str) -> Cow<'_, str> {
    let mut out = Cow::Borrowed(text);
    replace(&mut out, &PEM, |c: &Captures| {
        format!(
            "-----BEGIN {0}PRIVATE KEY-----{REDACTED}-----END {0}PRIVATE KEY-----",
            &c[1]
        )
    });
    replace(&mut out, &JWT, |_: &Captures| REDACTED.to_string());
    replace(&mut out, &USERINFO, |c: &Captures| format!("{}:{REDACTED}@", &c[1]));
    replace(&mut out, &BEARER, |c: &Captures| {
        let mut token = c[2].chars();
        let word = token.next().is_some_and(|ch| ch.is_ascii_alphabetic()) && token.all(|ch| ch.is_ascii_lowercase());
        if word {
            c[0].to_string()
        } else {
            format!("{}{REDACTED}", &c[1])
        }
    });
    replace(&mut out, &KEYED, keyed);
    replace(&mut out, &FLAG, keyed);
    out
}

fn replace(text: &mut Cow<'_, str>, re: &Regex, with: impl FnMut(&Captures) -> String) {
    let replaced = match re.replace_all(text, with) {
        Cow::Owned(s) if s != **text => Some(s),
        _ => None,
    };
    if let Some(s) = replaced {
        *text = Cow::Owned(s);
    }
}

fn keyed(c: &Captures) -> String {
    let all = c.get(0).expect("whole match");
    let v = c.name("v").expect("value group");
    let raw = v.as_str();
    let backslashes = raw.len() - raw.trim_start_matches('\\').len();
    let quote = raw[backslashes..]
        .chars()
        .next()
        .filter(|q| *q == '"' || (*q == '\'' && backslashes == 0));
    let (open, rest) = match quote {
        Some(_) => raw.split_at(backslashes + 1),
        None => ("", raw),
    };
    let (body, close) = match quote {
        Some(q) if rest.ends_with(q) => {
            let end = if backslashes > 0 {
                rest[..rest.len() - 1].trim_end_matches('\\').len()
            } else {
                rest.len() - 1
            };
            rest.split_at(end)
        }
        _ => (rest, ""),
    };
    let head = &all.as_str()[..v.start() - all.start()];
    let prose = c.name("pre").is_some()
        && open.is_empty()
        && c.name("wrap").is_none()
        && head.trim_end().ends_with(':')
        && !body.is_empty()
        && body.bytes().all(|b| b.is_ascii_lowercase());
    let keep = body.is_empty()
        || body == REDACTED
        || body.starts_with("-----BEGIN ")
        || ["true", "false", "null", "none", "~"]
            .iter()
            .any(|w| body.eq_ignore_ascii_case(w))
        || prose;
    if keep {
        all.as_str().to_string()
    } else {
        format!("{head}{open}{REDACTED}{close}")
    }
}

/// Applies [`secrets`] to every string, and redacts every value whose key names a secret (objects are searched,
/// `null` and booleans kept).
pub fn value(v: &mut Value) {
    match v {
        Value::String(s) => {
            let redacted = match secrets(s) {
                Cow::Owned(r) => Some(r),
                Cow::Borrowed(_) => None,
            };
            if let Some(r) = redacted {
                *s = r;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(value),
        Value::Object(map) => {
            for (k, x) in map.iter_mut() {
                if SECRET_KEY.is_match(k) {
                    conceal(x);
                } else {
                    value(x);
                }
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

fn conceal(v: &mut Value) {
    match v {
        Value::Null | Value::Bool(_) => {}
        Value::String(s) if s.is_empty() => {}
        Value::Object(_) => value(v),
        Value::Array(items) => items.iter_mut().for_each(conceal),
        Value::String(_) | Value::Number(_) => *v = Value::String(REDACTED.to_string()),
    }
}

fn unprintable(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{061c}')
}

/// For a terminal or Markdown: control characters except `\n` and `\t`, line separators and bidi controls become
/// `\u{1b}`-style escapes.
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(unprintable) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unprintable(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// For a Markdown table cell: [`printable`], on one line, with `|` escaped.
pub fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in printable(text).chars() {
        match c {
            '\n' | '\t' => out.push(' '),
            '|' => out.push_str("\\|"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const JWT_SAMPLE: &str = "eyJhbGciOiJSUzI1NiIsImtpZCI6IlRxb0t3In0.eyJpc3MiOiJrdWJlcm5ldGVzL3NlcnZpY2VhY2NvdW50Iiwic3ViIjoic3lzdGVtOnNlcnZpY2VhY2NvdW50OmNpOmJ1aWxkZXIifQ.N2Q4YzE5ZjAtYmI3Zi00Y2E2LTk1ZTQtM2I2ZWQ0";

    fn clean(text: &str) -> String {
        secrets(text).into_owned()
    }

    fn assert_gone(out: &str, leaked: &[&str]) {
        for secret in leaked {
            assert!(!out.contains(secret), "{secret:?} survived in:\n{out}");
        }
    }

    #[test]
    fn kubeconfig_snippet_in_parse_error() {
        let text = "error: failed to load kubeconfig: failed to parse kubeconfig YAML: users[0].user: invalid type: \
                    string \"token: sha256~Xk3v9QmZpL0aT7Yw2bNc4RfE8uJhGdSx\", expected struct AuthInfo at line 17 column 5\n\
                    users:\n- name: ci\n  user:\n    token: sha256~Xk3v9QmZpL0aT7Yw2bNc4RfE8uJhGdSx\n    \
                    client-key-data: LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQpNSUlFcEFJQkFBS0NBUUVB\n  \
                    password: hunter2\n";
        let out = clean(text);
        assert_gone(&out, &["Xk3v9QmZ", "LS0tLS1CRUdJ", "hunter2"]);
        assert!(
            out.contains("string \"token: [redacted]\", expected struct AuthInfo at line 17 column 5"),
            "{out}"
        );
        assert!(out.contains("    token: [redacted]\n    client-key-data: [redacted]\n  password: [redacted]\n"));
    }

    #[test]
    fn kubeconfig_snippet_in_debug_string() {
        let text =
            r#"Kubeconfig(Parse("users:\n- name: ci\n  user:\n    token: abc123secret\n    id-token: def456\n"))"#;
        let out = clean(text);
        assert_gone(&out, &["abc123secret", "def456"]);
        assert!(out.contains(r"token: [redacted]\n    id-token: [redacted]\n"), "{out}");
    }

    #[test]
    fn oidc_auth_provider_config() {
        let text = "auth-provider:\n  config:\n    client-id: kubernetes\n    id-token: eyJraWQi.x\n    \
                    refresh-token: ChlhYmNkZWY\n    access-token: ya29.a0AfB_byC\n    client-secret: ZXhhbXBsZQ\n";
        let out = clean(text);
        assert_gone(&out, &["eyJraWQi", "ChlhYmNkZWY", "ya29", "ZXhhbXBsZQ"]);
        assert!(out.contains("client-id: kubernetes\n    id-token: [redacted]\n    refresh-token: [redacted]\n"));
    }

    #[test]
    fn exec_credential_output() {
        let text = r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1","spec":{"interactive":false},"status":{"expirationTimestamp":"2025-07-12T19:03:14Z","token":"ya29.a0AfB_byCdEf-1234","clientKeyData":"-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIOab\n-----END EC PRIVATE KEY-----\n"}}"#;
        let out = clean(text);
        assert_gone(&out, &["ya29", "MHcCAQEEIOab"]);
        let key = r#""token":"[redacted]","clientKeyData":"-----BEGIN EC PRIVATE KEY-----[redacted]-----END"#;
        assert!(out.contains(key), "{out}");
        assert!(out.contains(r#""expirationTimestamp":"2025-07-12T19:03:14Z""#));
        assert!(serde_json::from_str::<Value>(&out).is_ok());
    }

    #[test]
    fn exec_credential_escaped_inside_json() {
        let text =
            r#"{"stage":"auth","stdout":"{\"kind\":\"ExecCredential\",\"status\":{\"token\":\"ya29.a0AfB_byCdEf\"}}"}"#;
        let out = clean(text);
        assert_gone(&out, &["ya29"]);
        assert!(out.contains(r#"\"token\":\"[redacted]\"}}"}"#), "{out}");
        assert!(serde_json::from_str::<Value>(&out).is_ok());
    }

    #[test]
    fn exec_plugin_command_line() {
        let text = "exec plugin failed: kubelogin get-token --login spn --server-id 6dae42f8 --client-id 0b1c \
                    --client-secret Qm8Q~abc.def_g --password p4ss --token=tok3n: exit status 1";
        let out = clean(text);
        assert_gone(&out, &["Qm8Q", "p4ss", "tok3n"]);
        assert!(out.contains("--server-id 6dae42f8 --client-id 0b1c --client-secret [redacted] --password [redacted]"));
        let args = r#"args: Some(["get-token", "--password", "p@ss w0rd", "--verbose"])"#;
        assert_eq!(
            clean(args),
            r#"args: Some(["get-token", "--password", "[redacted]", "--verbose"])"#
        );
    }

    #[test]
    fn flag_followed_by_flag_is_not_a_value() {
        assert_eq!(clean("--token --password abc"), "--token --password [redacted]");
        assert_eq!(
            clean("kubectl --token sha256~abc get pods"),
            "kubectl --token [redacted] get pods"
        );
    }

    #[test]
    fn debug_struct_fields() {
        let text = r#"AuthInfo { username: Some("admin"), password: Some("hunter2"), token: Some("abc.def") }"#;
        assert_eq!(
            clean(text),
            r#"AuthInfo { username: Some("admin"), password: Some("[redacted]"), token: Some("[redacted]") }"#
        );
    }

    #[test]
    fn proxy_url_userinfo() {
        let text = "HTTPS_PROXY=http://svc-build:S3cr3t%21p@ss@proxy.corp.example:3128 dial tcp: proxyconnect";
        assert_eq!(
            clean(text),
            "HTTPS_PROXY=http://svc-build:[redacted]@proxy.corp.example:3128 dial tcp: proxyconnect"
        );
        let git = r#"{"remote":"https://x-access-token:ghs_16C7e42F292c6912E7710c8@github.com/o/r.git"}"#;
        assert_eq!(
            clean(git),
            r#"{"remote":"https://x-access-token:[redacted]@github.com/o/r.git"}"#
        );
        assert_eq!(clean("ssh://git@github.com/o/r"), "ssh://git@github.com/o/r");
    }

    #[test]
    fn pem_private_key_across_lines() {
        let text = "client-key: |\n  -----BEGIN RSA PRIVATE KEY-----\n  MIIEpAIBAAKCAQEA0Z3VS5JJcds3xfn\n  \
                    Proc-Type: 4,ENCRYPTED\n  kq+6/9gQ==\n  -----END RSA PRIVATE KEY-----\nnext: line";
        let out = clean(text);
        assert_gone(&out, &["MIIEpAIBAAKCAQEA", "kq+6"]);
        assert!(out.contains("-----BEGIN RSA PRIVATE KEY-----[redacted]-----END RSA PRIVATE KEY-----\nnext: line"));
        let escaped = r"key: -----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----\n";
        assert_eq!(
            clean(escaped),
            r"key: -----BEGIN PRIVATE KEY-----[redacted]-----END PRIVATE KEY-----\n"
        );
        let truncated = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA";
        assert!(!clean(truncated).contains("b3BlbnNz"));
    }

    #[test]
    fn jwt_anywhere() {
        let text = format!("Unauthorized: service account token {JWT_SAMPLE} has expired");
        assert_eq!(
            clean(&text),
            "Unauthorized: service account token [redacted] has expired"
        );
    }

    #[test]
    fn authorization_headers_and_bare_bearer() {
        assert_eq!(
            clean("> Authorization: Bearer sha256~Xk3v9Qm"),
            "> Authorization: Bearer [redacted]"
        );
        assert_eq!(
            clean("Proxy-Authorization: Basic dXNlcjpwYXNz"),
            "Proxy-Authorization: Basic [redacted]"
        );
        assert_eq!(
            clean(r#"-H "Authorization: token ghp_16C7e42F292c""#),
            r#"-H "Authorization: token [redacted]""#
        );
        assert_eq!(
            clean(r#"{"Authorization":"Bearer abc"}"#),
            r#"{"Authorization":"[redacted]"}"#
        );
        assert_eq!(
            clean("retrying with Bearer ya29.a0AfB_byC now"),
            "retrying with Bearer [redacted] now"
        );
        assert_eq!(clean("the Bearer token was rejected"), "the Bearer token was rejected");
    }

    #[test]
    fn env_and_config_keys() {
        let cases = [
            ("GITHUB_TOKEN=ghp_16C7e42F292c", "GITHUB_TOKEN=[redacted]"),
            (
                "$env:REGISTRY_PASSWORD = \"Pa55!\"",
                "$env:REGISTRY_PASSWORD = \"[redacted]\"",
            ),
            ("passwd=letmein", "passwd=[redacted]"),
            ("apiKey: AIzaSyD-9tSrke72", "apiKey: [redacted]"),
            ("api-key: 0123abcd", "api-key: [redacted]"),
            ("bearerToken: abc.def", "bearerToken: [redacted]"),
            (r#"{"clientSecret": "Qm8Q~x"}"#, r#"{"clientSecret": "[redacted]"}"#),
            (
                r#"{"auths":{"ghcr.io":{"auth":"dXNlcjpwYXNz"}}}"#,
                r#"{"auths":{"ghcr.io":{"auth":"[redacted]"}}}"#,
            ),
            ("SECRET='s3cr3t'", "SECRET='[redacted]'"),
            (
                "AccountName=a;AccountKey=Zm9vYmFy==;EndpointSuffix=core",
                "AccountName=a;AccountKey=[redacted];EndpointSuffix=core",
            ),
            (
                "https://a.blob.core.windows.net/c?sv=2022&sig=abc%2Fdef",
                "https://a.blob.core.windows.net/c?sv=2022&sig=[redacted]",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(clean(text), want, "{text}");
        }
    }

    #[test]
    fn benign_texts_are_borrowed() {
        let texts = [
            "tokenizer: bert-base",
            "the token is invalid",
            "Access is denied.",
            "hcs::CreateComputeSystem: failed with HRESULT 0x80070005",
            r"open C:\buildkitd\src-test\Dockerfile: The system cannot find the file specified.",
            "Error from server (Forbidden): pods is forbidden: User \"system:anonymous\" cannot list resource \"pods\"",
            "secrets \"regcred\" is forbidden: User \"system:serviceaccount:ci:builder\" cannot get resource \"secrets\"",
            "error: You must be logged in to the server (Unauthorized)",
            "reason: Unauthorized",
            "failed to fetch anonymous token: unexpected status: 401 Unauthorized",
            "failed to authorize: failed to fetch oauth token: unexpected status: 400 Bad Request",
            "automountServiceAccountToken: false",
            "volumes:\n- name: creds\n  secret:\n    secretName: regcred\nimagePullSecrets:\n- name: regcred",
            "tokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token",
            "kube_client::client::auth::exec: running plugin",
            "kind: TokenReview",
            "the Bearer token was rejected",
            "password: \"\"",
        ];
        for text in texts {
            assert!(
                matches!(secrets(text), Cow::Borrowed(_)),
                "changed: {text} -> {}",
                secrets(text)
            );
        }
    }

    #[test]
    fn value_redacts_nested_and_stays_valid() {
        let mut v = serde_json::json!({
            "step": "pull",
            "env": {"GITHUB_TOKEN": "ghp_abc", "PATH": "C:\\Windows"},
            "users": [{"name": "ci", "user": {"token": "abc", "client-key-data": "LS0t", "tokenFile": "/t"}}],
            "stderr": "Authorization: Bearer sha256~Xk3 failed",
            "automountServiceAccountToken": false,
            "serviceAccountToken": {"path": "token", "expirationSeconds": 3600},
            "password": 1234,
            "secret": ["a", "b"]
        });
        value(&mut v);
        let text = serde_json::to_string(&v).expect("serializes");
        assert!(serde_json::from_str::<Value>(&text).is_ok());
        assert_eq!(v["env"]["GITHUB_TOKEN"], "[redacted]");
        assert_eq!(v["env"]["PATH"], "C:\\Windows");
        assert_eq!(v["users"][0]["user"]["token"], "[redacted]");
        assert_eq!(v["users"][0]["user"]["client-key-data"], "[redacted]");
        assert_eq!(v["users"][0]["user"]["tokenFile"], "/t");
        assert_eq!(v["stderr"], "Authorization: Bearer [redacted] failed");
        assert_eq!(v["automountServiceAccountToken"], false);
        assert_eq!(v["serviceAccountToken"]["expirationSeconds"], 3600);
        assert_eq!(v["password"], "[redacted]");
        assert_eq!(v["secret"], serde_json::json!(["[redacted]", "[redacted]"]));
        assert_eq!(v["step"], "pull");
    }

    #[test]
    fn printable_escapes_controls() {
        assert!(matches!(printable("plain\ttext\nline"), Cow::Borrowed(_)));
        assert_eq!(printable("a\u{1b}[2Jb\r\0\u{7}"), "a\\u{1b}[2Jb\\u{d}\\u{0}\\u{7}");
        assert_eq!(printable("x\u{85}\u{9b}y"), "x\\u{85}\\u{9b}y");
        assert_eq!(
            printable("ok\u{202e}gpj.exe\u{2066}\u{2028}"),
            "ok\\u{202e}gpj.exe\\u{2066}\\u{2028}"
        );
    }

    #[test]
    fn one_line_for_table_cells() {
        assert_eq!(one_line("a | b\nc\td\u{1b}"), "a \\| b c d\\u{1b}");
    }

    fn fragment() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::sample::select(vec![
                "token",
                "password",
                "Authorization",
                "Bearer",
                "basic",
                "--token",
                "--password",
                "Some(",
                ":",
                "=",
                " ",
                "\n",
                "\"",
                "\\\"",
                "\\\\",
                "'",
                ",",
                "{",
                "}",
                "-",
                "[redacted]",
                "://",
                "@",
                "http",
                ".",
                "eyJhbGciOiJIUzI1",
                "-----BEGIN RSA PRIVATE KEY-----",
                "-----END RSA PRIVATE KEY-----",
                "\\n",
                "the ",
                "true",
                "sig",
                "MIIE",
            ])
            .prop_map(String::from),
            "[a-zA-Z0-9~_]{1,10}",
            any::<char>().prop_map(String::from),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn secrets_is_idempotent(parts in prop::collection::vec(fragment(), 0..24)) {
            let text = parts.concat();
            let once = secrets(&text).into_owned();
            let twice = secrets(&once).into_owned();
            prop_assert_eq!(&twice, &once, "input {:?}", text);
        }

        #[test]
        fn secrets_never_panics_and_is_idempotent_on_any_text(text in any::<String>()) {
            let once = secrets(&text).into_owned();
            prop_assert_eq!(secrets(&once), once.as_str());
        }

        #[test]
        fn embedded_token_never_survives(s in "[A-Za-z0-9._-]{8,40}", context in 0usize..6) {
            let text = match context {
                0 => format!("token: {s}"),
                1 => format!("users:\n- name: ci\n  user:\n    token: {s}\n    username: ci\n"),
                2 => format!("error: invalid type: string \"token: {s}\", expected struct AuthInfo"),
                3 => format!(r#"Parse("user:\n  token: {s}\n")"#),
                4 => format!("{{ name: \"ci\", token: {s}, x: 1 }}"),
                _ => format!("{s} token: {s}"),
            };
            let out = secrets(&text);
            let after_key = out.split("token:").skip(1).collect::<String>();
            prop_assert!(!after_key.contains(s.as_str()), "{:?} -> {:?}", text, out);
        }
    }
}
