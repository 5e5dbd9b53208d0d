//! Names that collide only once compiled, which no single block can see: request ids equal up to
//! case (ARM compares rule names case-insensitively, so `INC-1` and `inc-1` would own one rule),
//! request/port pairs whose allow rules compile to one name (`a-b` + `c` and `a` + `b-c`, or two
//! long names shortened alike), and target/port pairs of one NSG whose lock-downs do.
//!
//! The later request of a colliding pair (in file order) is an error and left out of the
//! policy, so a plan never writes one rule for two grants; the first stays. A lock-down
//! collision is an error on the later target, which stays in the policy (its NSG is still
//! read, and the plan leaves the shared name alone).

use std::collections::HashMap;

use super::codes;
use super::decl::Decls;
use super::report::Report;
use crate::live::scope_key;
use crate::model::Policy;
use crate::platform::nsg::names::{allow_rule_name, deny_rule_name};
use crate::platform::nsg::plans as is_nsg_shaped;

/// Reports the collisions and drops the colliding grants from `policy`.
pub(super) fn check(decls: &Decls, policy: &mut Policy, report: &mut Report) {
    let prefix = policy.settings.rule_prefix.clone();
    let request_at = |id: &str| {
        decls
            .requests
            .iter()
            .find(|r| r.name.value == id)
            .map(|r| r.name.at.clone())
    };

    // Ids equal up to case.
    let mut ids: HashMap<String, String> = HashMap::new();
    let mut dropped: Vec<String> = Vec::new();
    for grant in &policy.grants {
        match ids.get(&grant.id.to_lowercase()) {
            Some(first) => {
                if let Some(at) = request_at(&grant.id) {
                    let hint = format!(
                        "the first is `{first}`{}; rule names compare without case, so both \
                         would own one rule: rename one",
                        request_at(first)
                            .map(|a| format!(" at {}", report.position(&a)))
                            .unwrap_or_default()
                    );
                    report
                        .push_at(
                            &at,
                            codes::REQUEST_IDS_DIFFER_IN_CASE,
                            format!(
                                "request `{}` differs from request `{first}` only in case",
                                grant.id
                            ),
                        )
                        .hint = Some(hint);
                }
                dropped.push(grant.id.clone());
            }
            None => {
                ids.insert(grant.id.to_lowercase(), grant.id.clone());
            }
        }
    }
    policy.grants.retain(|g| !dropped.contains(&g.id));

    // Request/port pairs compiling to one allow rule name.
    let mut names: HashMap<String, (String, String)> = HashMap::new();
    let mut dropped: Vec<String> = Vec::new();
    for grant in &policy.grants {
        let mut mine: Vec<(String, (String, String))> = Vec::new();
        for port in &grant.ports {
            let name = allow_rule_name(&prefix, &grant.id, port);
            let key = name.to_ascii_lowercase();
            let clash = names
                .get(&key)
                .or_else(|| mine.iter().find(|(k, _)| *k == key).map(|(_, v)| v))
                .cloned();
            let Some((first, first_port)) = clash else {
                mine.push((key, (grant.id.clone(), port.clone())));
                continue;
            };
            if let Some(at) = request_at(&grant.id) {
                let hint = format!(
                    "request `{first}` port `{first_port}`{} compiles to that name too (rule names \
                     compare without case); rename a request or port",
                    request_at(&first)
                        .map(|a| format!(" at {}", report.position(&a)))
                        .unwrap_or_default()
                );
                report
                    .push_at(
                        &at,
                        codes::ALLOW_RULE_NAME_COLLISION,
                        format!(
                            "request `{}` port `{port}` compiles to rule `{name}`, as request \
                             `{first}` port `{first_port}` does",
                            grant.id
                        ),
                    )
                    .hint = Some(hint);
            }
            dropped.push(grant.id.clone());
            break;
        }
        if !dropped.contains(&grant.id) {
            names.extend(mine);
        }
    }
    policy.grants.retain(|g| !dropped.contains(&g.id));

    // Target/port pairs of one NSG compiling to one lock-down name.
    let mut denies: HashMap<(String, String), (String, String)> = HashMap::new();
    for target in policy.targets.iter().filter(|t| is_nsg_shaped(policy, t)) {
        let Some(nsg) = target.nsg_id.as_deref().map(scope_key) else {
            continue;
        };
        for port in &target.ports {
            let name = deny_rule_name(&prefix, &target.name, &port.name);
            let key = (nsg.clone(), name.to_ascii_lowercase());
            match denies.get(&key) {
                Some((first, first_port)) => {
                    let Some(decl) = decls.targets.iter().find(|t| t.name.value == target.name)
                    else {
                        continue;
                    };
                    report
                        .push_at(
                            &decl.name.at,
                            codes::LOCK_DOWN_NAME_COLLISION,
                            format!(
                                "port `{}` of target `{}` compiles to lock-down rule `{name}` in \
                                 the NSG that target `{first}` port `{first_port}` also locks \
                                 down with that name",
                                port.name, target.name
                            ),
                        )
                        .hint = Some("rename one of the targets or ports".to_string());
                }
                None => {
                    denies.insert(key, (target.name.clone(), port.name.clone()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::lang::{load_all, SourceFile};

    const NSG: &str =
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/n";

    fn target(name: &str, ports: &[&str]) -> String {
        let ports: String = ports
            .iter()
            .enumerate()
            .map(|(i, p)| {
                format!(
                    "  port \"{p}\" {{\n    number = {}\n    allowed_sources = [\"10.0.0.0/8\"]\n    max_duration = \"3h\"\n  }}\n",
                    22 + i
                )
            })
            .collect();
        format!(
            "target \"{name}\" {{\n  provider = \"snapshot.s\"\n  nsg_id = \"{NSG}\"\n{ports}}}\n"
        )
    }

    fn request(id: &str, target: &str, port: &str) -> String {
        format!(
            "request \"{id}\" {{\n  target = \"{target}\"\n  ports = [\"{port}\"]\n  source = \"10.0.0.1/32\"\n  requester = \"a@x\"\n  justification = \"j\"\n  start = \"2026-11-25T14:00:00Z\"\n  duration = \"1h\"\n}}\n"
        )
    }

    fn load(blocks: &[String]) -> crate::lang::Loaded {
        let text = format!(
            "provider \"snapshot\" \"s\" {{\n  path = \"l.json\"\n}}\n{}",
            blocks.concat()
        );
        load_all(&[SourceFile {
            path: "p.hcl".into(),
            text,
        }])
    }

    fn codes(loaded: &crate::lang::Loaded) -> Vec<(&'static str, usize, String)> {
        loaded
            .diagnostics
            .iter()
            .map(|d| (d.code, d.line, d.message.clone()))
            .collect()
    }

    #[test]
    fn request_ids_equal_up_to_case_are_an_error_on_the_later() {
        let loaded = load(&[
            target("web", &["ssh"]),
            request("INC-1", "web", "ssh"),
            request("inc-1", "web", "ssh"),
        ]);
        let found = codes(&loaded);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "E080");
        assert!(found[0]
            .2
            .contains("`inc-1` differs from request `INC-1` only in case"));
        let hint = loaded.diagnostics[0].hint.as_deref().unwrap();
        assert!(hint.contains("p.hcl:"), "{hint}");
        let ids: Vec<&str> = loaded.policy.grants.iter().map(|g| g.id.as_str()).collect();
        assert_eq!(ids, ["INC-1"]);
    }

    #[test]
    fn request_port_pairs_with_one_rule_name_are_an_error() {
        // `a-b` + `c` and `a` + `b-c` both compile to `jit-allow-a-b-c`.
        let loaded = load(&[
            target("web", &["c", "b-c"]),
            request("a-b", "web", "c"),
            request("a", "web", "b-c"),
        ]);
        let found = codes(&loaded);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "E081");
        assert!(
            found[0]
                .2
                .contains("compiles to rule `jit-allow-a-b-c`, as request `a-b` port `c`"),
            "{}",
            found[0].2
        );
        let ids: Vec<&str> = loaded.policy.grants.iter().map(|g| g.id.as_str()).collect();
        assert_eq!(ids, ["a-b"]);
        // Long ids shortened alike are told apart by their hash: no collision.
        let long = "x".repeat(90);
        let loaded = load(&[
            target("web", &["ssh"]),
            request(&format!("{long}1"), "web", "ssh"),
            request(&format!("{long}2"), "web", "ssh"),
        ]);
        assert!(
            loaded.diagnostics.iter().all(|d| d.code != "E081"),
            "{:?}",
            codes(&loaded)
        );
    }

    #[test]
    fn lock_downs_of_one_nsg_with_one_name_are_an_error() {
        let loaded = load(&[target("web-1", &["ssh"]), target("web", &["1-ssh"])]);
        let found = codes(&loaded);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "E082");
        assert!(
            found[0].2.contains("`jit-deny-web-1-ssh`"),
            "{}",
            found[0].2
        );
        assert_eq!(loaded.policy.targets.len(), 2, "both targets stay");
    }
}
