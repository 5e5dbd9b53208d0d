//! `accept` blocks: a foreign rule opened on purpose (DESIGN §3). Decoding one block (its
//! attributes, the NSG id's shape, an ARM-legal rule name, an RFC 3339 `expires`), the checks
//! across blocks (duplicates, an NSG that some target names, `justification_pattern`), and the
//! warning for an accept whose `expires` has passed, which needs the clock and so is asked for
//! by the command that has one.

use std::collections::HashMap;

use hcl_edit::structure::Block;
use jiff::Timestamp;

use super::codes;
use super::decl::{AcceptDecl, SettingsDecl, Spanned, TargetDecl};
use super::decode::{fields, get, header, labels, name, nonempty, require, string, Cx};
use super::report::{Bad, Report};
use super::values;
use crate::diag::suggest::did_you_mean;
use crate::diag::{Diagnostic, Severity};
use crate::live::scope_key;
use crate::model::{Accept, Policy};

const KEYS: [&str; 4] = ["nsg_id", "rule", "justification", "expires"];

pub fn decode(cx: &mut Cx, block: &Block) -> Option<AcceptDecl> {
    let labels = labels(cx, block, 1, "accept \"lb-health-probe\" { … }")?;
    let name = name(cx, &labels[0], "accept")?;
    let what = format!("accept `{}`", name.value);
    let before = cx.errors();
    let (found, _) = fields(cx, block, &what, &KEYS, None);
    require(cx, block, &what, &found, &KEYS);
    // A malformed id is reported once, not again as an NSG no target names.
    let nsg_id = get(&found, "nsg_id")
        .and_then(|a| nonempty(cx, a))
        .filter(|id| {
            let errors = cx.errors();
            super::decode_target::resource_id(
                cx,
                id,
                "nsg_id",
                "microsoft.network/networksecuritygroups",
                "Microsoft.Network/networkSecurityGroups",
            );
            cx.errors() == errors
        });
    let rule = get(&found, "rule").and_then(|a| nonempty(cx, a));
    if let Some(r) = &rule {
        if !arm_rule_name(&r.value) {
            cx.bad(
                Bad::new(
                    r.at.span.clone(),
                    codes::ACCEPT_RULE_NAME,
                    format!("`rule` `{}` is not a security rule name", r.value),
                )
                .hint("write the rule's name as the NSG shows it: 1–80 letters, digits, `_`, `.` or `-`, starting with a letter, digit or `_`"),
            );
        }
    }
    let justification = get(&found, "justification").and_then(|a| nonempty(cx, a));
    let expires = get(&found, "expires").and_then(|attr| {
        let s = string(cx, attr)?;
        let t = values::time(&s.value)
            .map_err(|bad| cx.bad(bad.span_to(s.at.span.clone())))
            .ok()?;
        Some(Spanned { value: t, at: s.at })
    });
    Some(AcceptDecl {
        at: cx.at(header(block)),
        name,
        nsg_id,
        rule,
        justification,
        expires,
        ok: cx.errors() == before,
    })
}

/// ARM's rule for security rule names: 1–80 word characters, `.` or `-`, starting with a word
/// character and ending with a word character or `_`.
fn arm_rule_name(name: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    (1..=80).contains(&name.len())
        && name.chars().all(|c| word(c) || c == '.' || c == '-')
        && name.starts_with(word)
        && name.ends_with(word)
}

/// Checks across blocks; the accepts that passed, in file order.
pub fn validate(
    accepts: &[AcceptDecl],
    targets: &[TargetDecl],
    settings: Option<&SettingsDecl>,
    report: &mut Report,
) -> Vec<Accept> {
    let nsgs: HashMap<String, &str> = targets
        .iter()
        .filter_map(|t| t.nsg_id.as_ref())
        .map(|id| (scope_key(&id.value), id.value.as_str()))
        .collect();
    let mut names: HashMap<&str, &AcceptDecl> = HashMap::new();
    let mut rules: HashMap<(String, String), &AcceptDecl> = HashMap::new();
    let mut out = Vec::new();
    for a in accepts {
        if let Some(first) = names.get(a.name.value.as_str()) {
            let hint = format!("the first is at {}", report.position(&first.name.at));
            report
                .push_at(
                    &a.name.at,
                    codes::ACCEPT_DUPLICATE,
                    format!("accept `{}` is declared twice", a.name.value),
                )
                .hint = Some(hint);
            continue;
        }
        names.insert(&a.name.value, a);
        let before = report.error_count();
        if let Some(id) = &a.nsg_id {
            if !nsgs.contains_key(&scope_key(&id.value)) {
                let hint = did_you_mean(&id.value, nsgs.values().copied()).unwrap_or_else(|| {
                    "an accept covers a foreign rule in the NSG of a target; name that NSG as the target's `nsg_id` does".to_string()
                });
                report
                    .push_at(
                        &id.at,
                        codes::ACCEPT_UNKNOWN_NSG,
                        format!("no target names NSG `{}`", id.value),
                    )
                    .hint = Some(hint);
            }
            if let Some(rule) = &a.rule {
                let key = (scope_key(&id.value), rule.value.to_ascii_lowercase());
                if let Some(first) = rules.get(&key) {
                    let hint = format!(
                        "accept `{}` at {} accepts it already",
                        first.name.value,
                        report.position(&first.name.at)
                    );
                    report
                        .push_at(
                            &rule.at,
                            codes::ACCEPT_DUPLICATE,
                            format!("rule `{}` of this NSG is accepted twice", rule.value),
                        )
                        .hint = Some(hint);
                } else {
                    rules.insert(key, a);
                }
            }
        }
        super::validate::check_justification(
            settings,
            a.justification.as_ref(),
            codes::ACCEPT_JUSTIFICATION_MISMATCH,
            report,
        );
        if !a.ok || report.error_count() != before {
            continue;
        }
        let (Some(nsg_id), Some(rule), Some(justification), Some(expires)) =
            (&a.nsg_id, &a.rule, &a.justification, &a.expires)
        else {
            continue;
        };
        out.push(Accept {
            name: a.name.value.clone(),
            nsg_id: nsg_id.value.clone(),
            rule: rule.value.clone(),
            justification: justification.value.clone(),
            expires: expires.value,
            expires_at: report.place(&expires.at),
        });
    }
    out
}

/// A warning for each accept whose `expires` lies at or before `now`: from then on, its rule
/// is a finding again.
pub fn expired(policy: &Policy, now: Timestamp) -> Vec<Diagnostic> {
    policy
        .accepts
        .iter()
        .filter(|a| a.expires <= now)
        .map(|a| Diagnostic {
            file: a.expires_at.file.clone(),
            line: a.expires_at.line,
            column: a.expires_at.column,
            offset: a.expires_at.offset,
            len: a.expires_at.len,
            severity: Severity::Warning,
            code: codes::ACCEPT_EXPIRED,
            message: format!("accept `{}` expired at {}", a.name, a.expires),
            hint: Some(format!(
                "an exposure through rule `{}` is a finding again; remove the block, or renew it with a later `expires`",
                a.rule
            )),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::diag::{Diagnostic, Severity};
    use crate::lang::{codes, load_all, SourceFile};

    const NSG: &str =
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/web-1-nsg";

    fn policy() -> String {
        format!(
            r#"settings {{
  justification_pattern = "^(INC|CHG)-[0-9]+"
}}

provider "snapshot" "demo" {{
  path = "live.json"
}}

target "web-1" {{
  provider = "snapshot.demo"
  nsg_id   = "{NSG}"
  port "ssh" {{
    number       = 22
    max_duration = "3h"
  }}
}}
"#
        )
    }

    fn accept(name: &str, body: &str) -> String {
        format!("accept \"{name}\" {{\n{body}}}\n")
    }

    fn good(name: &str, rule: &str) -> String {
        accept(
            name,
            &format!(
                "  nsg_id        = \"{NSG}\"\n  rule          = \"{rule}\"\n  justification = \"CHG-88 load balancer probes\"\n  expires       = \"2027-01-31T00:00:00Z\"\n"
            ),
        )
    }

    fn load(accepts: &str) -> (crate::model::Policy, Vec<Diagnostic>) {
        let loaded = load_all(&[
            SourceFile {
                path: "policy.hcl".into(),
                text: policy(),
            },
            SourceFile {
                path: "accepts.hcl".into(),
                text: accepts.into(),
            },
        ]);
        (loaded.policy, loaded.diagnostics)
    }

    fn one(accepts: &str, code: &str) -> Diagnostic {
        let (policy, diags) = load(accepts);
        assert!(policy.accepts.is_empty(), "{:?}", policy.accepts);
        let found: Vec<_> = diags.iter().filter(|d| d.code == code).collect();
        assert_eq!(found.len(), 1, "{diags:#?}");
        found[0].clone()
    }

    #[test]
    fn a_valid_accept_is_in_the_policy() {
        let (policy, diags) = load(&good("lb-health-probe", "allow-lb-probe-22"));
        assert!(diags.is_empty(), "{diags:#?}");
        let a = &policy.accepts[0];
        assert_eq!(a.name, "lb-health-probe");
        assert_eq!(a.rule, "allow-lb-probe-22");
        assert_eq!(a.expires.to_string(), "2027-01-31T00:00:00Z");
        assert_eq!((a.expires_at.line, a.expires_at.column), (5, 19));
    }

    #[test]
    fn required_attributes() {
        let d = one(
            &accept(
                "x",
                &format!(
                    "  nsg_id = \"{NSG}\"\n  rule = \"r\"\n  expires = \"2027-01-31T00:00:00Z\"\n"
                ),
            ),
            codes::MISSING_ATTRIBUTE,
        );
        assert_eq!(d.message, "accept `x` is missing `justification`");
        let (_, diags) = load(&accept("x", ""));
        assert_eq!(
            diags
                .iter()
                .filter(|d| d.code == codes::MISSING_ATTRIBUTE)
                .count(),
            4
        );
        let d = one(
            &good("x", "r").replace("  rule ", "  rules"),
            codes::UNKNOWN_ATTRIBUTE,
        );
        assert_eq!(d.hint.as_deref(), Some("did you mean `rule`?"));
    }

    #[test]
    fn shapes_of_values() {
        let d = one(
            &good("x", "r").replace(NSG, "web-1-nsg"),
            codes::INVALID_VALUE,
        );
        assert_eq!(
            d.message,
            "`nsg_id` is not a Microsoft.Network/networkSecurityGroups resource id"
        );
        assert_eq!((d.file.as_str(), d.line, d.column), ("accepts.hcl", 2, 19));
        let d = one(
            &good("x", "r").replace("2027-01-31T00:00:00Z", "2027-01-31 00:00"),
            codes::INVALID_TIME,
        );
        assert_eq!((d.line, d.column), (5, 19));
        one(&good("x", "bad/../name"), codes::ACCEPT_RULE_NAME);
        one(&good("x", "ends-with-dot."), codes::ACCEPT_RULE_NAME);
        one(&good("x", &"a".repeat(81)), codes::ACCEPT_RULE_NAME);
        one(&good("bad name", "r"), codes::INVALID_NAME);
        one(
            &good("x", "r").replace("accept \"x\"", "accept"),
            codes::BLOCK_LABELS,
        );
    }

    #[test]
    fn justification_pattern_applies() {
        let d = one(
            &good("x", "r").replace("CHG-88 load", "load"),
            codes::ACCEPT_JUSTIFICATION_MISMATCH,
        );
        assert_eq!(d.line, 4);
        assert!(d.hint.unwrap().contains("policy.hcl:2:27"));
    }

    #[test]
    fn duplicates_name_the_first() {
        let text = good("x", "probe") + &good("x", "other");
        let (policy, diags) = load(&text);
        assert_eq!(policy.accepts.len(), 1);
        assert_eq!(diags.len(), 1, "{diags:#?}");
        assert_eq!(diags[0].code, codes::ACCEPT_DUPLICATE);
        assert_eq!(diags[0].message, "accept `x` is declared twice");
        assert_eq!(
            diags[0].hint.as_deref(),
            Some("the first is at accepts.hcl:1:8")
        );
        // The same rule of the same NSG (ids and names compared as ARM does).
        let text = good("x", "probe") + &good("y", "PROBE").replace(NSG, &NSG.to_uppercase());
        let (policy, diags) = load(&text);
        assert_eq!(policy.accepts.len(), 1);
        assert_eq!(diags.len(), 1, "{diags:#?}");
        assert_eq!(
            diags[0].message,
            "rule `PROBE` of this NSG is accepted twice"
        );
    }

    #[test]
    fn an_nsg_no_target_names_is_an_error_with_a_suggestion() {
        let d = one(
            &good("x", "r").replace("web-1-nsg", "web-l-nsg"),
            codes::ACCEPT_UNKNOWN_NSG,
        );
        assert_eq!(d.severity, Severity::Error);
        assert!(
            d.message.starts_with("no target names NSG `"),
            "{}",
            d.message
        );
        assert_eq!(d.hint, Some(format!("did you mean `{NSG}`?")));
        let d = one(
            &good("x", "r").replace("web-1-nsg", "database-nsg"),
            codes::ACCEPT_UNKNOWN_NSG,
        );
        assert!(d.hint.unwrap().contains("the target's `nsg_id`"));
    }

    #[test]
    fn expired_accepts_warn_at_their_expires() {
        let (policy, _) = load(&good("x", "probe"));
        assert!(super::expired(&policy, "2027-01-30T23:59:59Z".parse().unwrap()).is_empty());
        let warnings = super::expired(&policy, "2027-01-31T00:00:00Z".parse().unwrap());
        assert_eq!(warnings.len(), 1);
        let w = &warnings[0];
        assert_eq!(w.severity, Severity::Warning);
        assert_eq!(w.code, codes::ACCEPT_EXPIRED);
        assert_eq!((w.file.as_str(), w.line, w.column), ("accepts.hcl", 5, 19));
        assert_eq!(w.message, "accept `x` expired at 2027-01-31T00:00:00Z");
    }
}
