//! Classes users add: rules that a scenario (`classes:`) or a shared file under the repository's `classes/` folder
//! declares, each naming a class of its own.
//!
//! A declared rule holds when all of its conditions hold on one logical record: `code` (the record carries that
//! Windows code, printed or inferred from its message; a Win32 code and its HRESULT are the same code), `stage` (the
//! record's wrapper chain passes that stage) and `message` (a regular expression found in the record's readable
//! text, every escaping level undone). Declared rules only read records that the built-in rules leave `unknown`: a
//! built-in specific rule always wins, over the whole input (a declared verdict ranks below every built-in rule and
//! above `unknown`). Scenario loading checks and compiles them (`scenario::classes`); here they only run.

use std::sync::{Arc, LazyLock};

use regex::Regex;

use super::code::Code;
use super::rules::{Facts, Verdict};
use super::{Class, Stage};

/// The priority of a declared rule's verdict: above `unknown` (0 and 1), below every built-in rule.
pub const DECLARED_PRIORITY: u8 = 30;

/// Whether `name` is written like a class name: lower-case letters, digits and dashes, at most 63, starting and
/// ending with a letter or digit.
pub fn is_class_name(name: &str) -> bool {
    static NAME: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$").unwrap());
    NAME.is_match(name)
}

/// One compiled declared rule.
#[derive(Debug, Clone)]
pub struct DeclaredRule {
    /// The class it assigns ([`Class::Declared`]).
    pub class: Class,
    /// The rule's name as reported (`declared:<class>`).
    pub name: &'static str,
    /// The code the record must carry.
    pub code: Option<u32>,
    /// The stage the record's chain must pass.
    pub stage: Option<Stage>,
    /// The expression the record's readable text must hold.
    pub message: Option<Regex>,
}

impl DeclaredRule {
    /// A rule for `class`; at least one condition should be given (a rule without any holds on every record the
    /// built-ins leave `unknown`).
    pub fn new(class: Class, code: Option<u32>, stage: Option<Stage>, message: Option<Regex>) -> DeclaredRule {
        DeclaredRule {
            class,
            name: super::class::intern(&format!("declared:{}", class.as_str())),
            code,
            stage,
            message,
        }
    }

    fn holds(&self, facts: &Facts) -> bool {
        let code = self.code.is_none_or(|want| {
            let want = Code::new(want, super::CodeSource::Explicit);
            facts
                .codes
                .iter()
                .any(|(_, c)| c.value == want.value || (want.win32().is_some() && c.win32() == want.win32()))
        });
        code && self
            .stage
            .is_none_or(|stage| facts.chain.iter().any(|(_, s)| *s == stage))
            && self.message.as_ref().is_none_or(|re| re.is_match(facts.text))
    }
}

/// The declared rules of a scenario (its own and its repository's shared ones), in declaration order: the first
/// that holds decides.
#[derive(Debug, Clone, Default)]
pub struct DeclaredRules {
    rules: Arc<[DeclaredRule]>,
}

impl DeclaredRules {
    /// The rules, in the order they decide.
    pub fn new(rules: Vec<DeclaredRule>) -> DeclaredRules {
        DeclaredRules { rules: rules.into() }
    }

    /// Whether there is no rule.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rules.
    pub fn rules(&self) -> &[DeclaredRule] {
        &self.rules
    }

    /// The distinct declared classes, in order of first declaration.
    pub fn classes(&self) -> Vec<Class> {
        let mut out: Vec<Class> = Vec::new();
        for rule in self.rules.iter() {
            if !out.contains(&rule.class) {
                out.push(rule.class);
            }
        }
        out
    }

    /// The declared class called `name`, if any.
    pub fn class(&self, name: &str) -> Option<Class> {
        self.rules.iter().map(|r| r.class).find(|c| c.as_str() == name)
    }

    /// These rules, then `other`'s.
    pub fn then(&self, other: &DeclaredRules) -> DeclaredRules {
        DeclaredRules::new(self.rules.iter().chain(other.rules.iter()).cloned().collect())
    }

    /// The verdict of the first rule that holds on a record the built-in rules leave `unknown`.
    pub fn evaluate(&self, facts: &Facts) -> Option<Verdict> {
        let rule = self.rules.iter().find(|rule| rule.holds(facts))?;
        Some(Verdict {
            class: rule.class,
            rule: rule.name,
            priority: DECLARED_PRIORITY,
            stage: rule
                .stage
                .filter(|s| facts.chain.iter().any(|(_, c)| c == s))
                .or(facts.innermost()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::{Classifier, classify, rules::RULES};

    fn with(rules: Vec<DeclaredRule>, text: &str) -> crate::classify::Classification {
        let mut classifier = Classifier::with_declared(DeclaredRules::new(rules));
        classifier.feed_str(text);
        classifier.finish()
    }

    #[test]
    fn a_declared_rule_claims_what_the_built_ins_leave_unknown() {
        let class = Class::declared("hns-endpoint-missing", false);
        let text = "HNS failed with error : The parameter is incorrect.";
        assert_eq!(classify(text).class, Some(Class::Unknown));
        let by_code = DeclaredRule::new(class, Some(0x8007_0057), None, None);
        let out = with(vec![by_code], text);
        assert_eq!(out.class, Some(class));
        assert_eq!(out.rule, Some("declared:hns-endpoint-missing"));
        assert_eq!(out.code.map(|c| c.value), Some(0x57));
        let by_message = DeclaredRule::new(class, None, None, Some(Regex::new(r"HNS failed").unwrap()));
        assert_eq!(with(vec![by_message], text).class, Some(class));
        let not_this_stage = DeclaredRule::new(class, Some(87), Some(Stage::Bind), None);
        assert_eq!(with(vec![not_this_stage], text).class, Some(Class::Unknown));
    }

    #[test]
    fn a_built_in_specific_match_wins_anywhere_in_the_input() {
        let class = Class::declared("anything-denied", false);
        let rule = DeclaredRule::new(class, None, None, Some(Regex::new("(?i)denied").unwrap()));
        let bind = r#"failed to bind target "C:\a" to root "C:\b": Access is denied."#;
        assert_eq!(with(vec![rule.clone()], bind).class, Some(Class::BindfltAccessDenied));
        let text = format!("STATUS_ACCESS_DENIED something denied\n\n{bind}\n");
        assert_eq!(with(vec![rule], &text).class, Some(Class::BindfltAccessDenied));
        assert!(RULES.iter().all(|r| r.priority > DECLARED_PRIORITY));
    }

    #[test]
    fn no_rule_means_the_built_ins_alone() {
        let text = "hcs::System::Start 1a2b: The request is not supported.";
        assert_eq!(with(Vec::new(), text), classify(text));
    }
}
