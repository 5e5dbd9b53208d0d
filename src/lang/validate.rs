//! Rules across blocks and files: at most one `settings`, unique names, targets → providers,
//! the attributes each provider kind needs, the order of the priority bands, and every request
//! against its target's ports and the settings (sources and their address family, durations,
//! the time range of its end, approvers, justification). Builds the
//! [`Policy`](crate::model::Policy) from declarations that passed.

use std::collections::HashMap;

use super::decl::{Decls, PortDecl, PortRef, RequestDecl, SettingsDecl, Spanned, TargetDecl};
use super::report::{At, Report};
use super::validate_approval::{subject, Approvals, SignersFile};
use super::{codes, values};
use crate::approval::{names, Subject};
use crate::diag::suggest::did_you_mean;
use crate::model::{AzureMode, Grant, Policy, Port, ProviderConfig, ProviderDecl, Target};

/// What validation gives besides the policy: the diagnostics of the allowed_signers file, and
/// the approval message of every request complete enough to have one.
pub struct Extra {
    pub signers_diagnostics: Vec<crate::diag::Diagnostic>,
    /// Request id, its place, its approval subject.
    pub subjects: Vec<(String, At, Subject)>,
}

pub fn validate(
    decls: Decls,
    signers: Option<&SignersFile>,
    report: &mut Report,
) -> (Policy, Extra) {
    let settings = settings(&decls.settings, report);
    let providers = providers(&decls, report);
    let targets = targets(&decls, &providers, report);
    let approvals = Approvals::new(&decls, settings, signers, report);
    let defender: std::collections::HashSet<&str> = decls
        .targets
        .iter()
        .filter(|t| {
            let provider = t.provider.as_ref().and_then(|p| providers.get(&p.value));
            matches!(
                provider.and_then(|p| p.config.as_ref()),
                Some(ProviderConfig::Azure {
                    mode: AzureMode::Defender,
                    ..
                })
            )
        })
        .map(|t| t.name.value.as_str())
        .collect();
    let (grants, subjects) = requests(&decls, &targets, &defender, settings, &approvals, report);
    let extra = Extra {
        signers_diagnostics: approvals.file_diagnostics,
        subjects,
    };
    let accepts = super::accept::validate(&decls.accepts, &decls.targets, settings, report);
    let mut settings_value = settings.map(|s| s.settings.clone()).unwrap_or_default();
    settings_value.policy_names = decls
        .providers
        .iter()
        .filter_map(|p| Some((p.address(), p.policy_name.as_ref()?.value.clone())))
        .collect();
    let mut policy = Policy {
        settings: settings_value,
        providers: decls
            .providers
            .iter()
            .filter_map(|p| {
                Some(ProviderDecl {
                    name: p.name.value.clone(),
                    config: p.config.clone()?,
                })
            })
            .collect(),
        targets: decls
            .targets
            .iter()
            .filter(|t| t.ok)
            .filter_map(build_target)
            .collect(),
        grants,
        accepts,
    };
    super::collisions::check(&decls, &mut policy, report);
    (policy, extra)
}

/// `justification` must match the settings' `justification_pattern`, if there is one; `code`
/// says whose justification it is (a request's or an accept's).
pub(super) fn check_justification(
    settings: Option<&SettingsDecl>,
    justification: Option<&Spanned<String>>,
    code: &'static str,
    report: &mut Report,
) {
    let (Some(pattern), Some(j)) = (settings.and_then(|s| s.pattern.as_ref()), justification)
    else {
        return;
    };
    if !pattern.value.is_match(&j.value) {
        let hint = format!(
            "`justification_pattern` is `{}`, set at {}",
            pattern.value.as_str(),
            report.position(&pattern.at)
        );
        report
            .push_at(
                &j.at,
                code,
                format!("justification does not match `{}`", pattern.value.as_str()),
            )
            .hint = Some(hint);
    }
}

fn first_at(report: &Report, at: &At) -> String {
    format!("the first is at {}", report.position(at))
}

fn settings<'d>(all: &'d [SettingsDecl], report: &mut Report) -> Option<&'d SettingsDecl> {
    let first = all.first()?;
    for extra in &all[1..] {
        let hint = format!(
            "the first `settings` block is at {}",
            report.position(&first.at)
        );
        report
            .push_at(
                &extra.at,
                codes::DUPLICATE_SETTINGS,
                "more than one `settings` block",
            )
            .hint = Some(hint);
    }
    let s = &first.settings;
    if s.allow_priority.overlaps(&s.deny_priority) {
        let at = first
            .deny_at
            .as_ref()
            .or(first.allow_at.as_ref())
            .unwrap_or(&first.at);
        let message = format!(
            "`deny_priority` [{}, {}] overlaps `allow_priority` [{}, {}]",
            s.deny_priority.low, s.deny_priority.high, s.allow_priority.low, s.allow_priority.high
        );
        report.push_at(at, codes::BANDS_OVERLAP, message).hint = Some(
            "allow rules need priorities below (numbers lower than) the deny rules they open, in a separate band".to_string(),
        );
    }
    if !s.allow_priority.overlaps(&s.deny_priority) && s.allow_priority.low > s.deny_priority.high {
        let at = first
            .allow_at
            .as_ref()
            .or(first.deny_at.as_ref())
            .unwrap_or(&first.at);
        let message = format!(
            "`allow_priority` [{}, {}] is not below `deny_priority` [{}, {}]",
            s.allow_priority.low, s.allow_priority.high, s.deny_priority.low, s.deny_priority.high
        );
        report.push_at(at, codes::BANDS_ORDER, message).hint = Some(
            "NSGs evaluate lower numbers first: an allow above its deny never opens the port; \
             swap the bands, such as `allow_priority = [100, 199]` and `deny_priority = [4000, 4095]`"
                .to_string(),
        );
    }
    Some(first)
}

/// Providers by address.
fn providers<'d>(
    decls: &'d Decls,
    report: &mut Report,
) -> HashMap<String, &'d super::decl::ProviderDecl> {
    let mut by_address: HashMap<String, &super::decl::ProviderDecl> = HashMap::new();
    for p in &decls.providers {
        let address = p.address();
        if let Some(first) = by_address.get(&address) {
            let hint = first_at(report, &first.name.at);
            report
                .push_at(
                    &p.name.at,
                    codes::DUPLICATE_NAME,
                    format!("provider `{address}` is declared twice"),
                )
                .hint = Some(hint);
        } else {
            by_address.insert(address, p);
        }
    }
    nftables_tables(decls, report);
    by_address
}

/// Two nftables providers on one table would each remove the other's grants (E110).
fn nftables_tables(decls: &Decls, report: &mut Report) {
    let mut by_table: HashMap<&str, &super::decl::ProviderDecl> = HashMap::new();
    for p in &decls.providers {
        let Some(ProviderConfig::Nftables { table }) = &p.config else {
            continue;
        };
        match by_table.get(table.as_str()) {
            Some(first) => {
                let first_address = first.address();
                report
                    .push_at(
                        &p.name.at,
                        codes::NFTABLES_TABLE_SHARED,
                        format!(
                            "nftables provider `{}` uses table `{table}`, as `{first_address}` does",
                            p.address()
                        ),
                    )
                    .hint = Some(format!(
                    "jit owns the whole table of each provider: give this one its own `table`, or point its targets at `{first_address}`"
                ));
            }
            None => {
                by_table.insert(table, p);
            }
        }
    }
}

/// Targets by name.
fn targets<'d>(
    decls: &'d Decls,
    providers: &HashMap<String, &super::decl::ProviderDecl>,
    report: &mut Report,
) -> HashMap<&'d str, &'d TargetDecl> {
    let mut by_name: HashMap<&str, &TargetDecl> = HashMap::with_capacity(decls.targets.len());
    for t in &decls.targets {
        if let Some(first) = by_name.get(t.name.value.as_str()) {
            let hint = first_at(report, &first.name.at);
            report
                .push_at(
                    &t.name.at,
                    codes::DUPLICATE_NAME,
                    format!("target `{}` is declared twice", t.name.value),
                )
                .hint = Some(hint);
            continue;
        }
        by_name.insert(&t.name.value, t);
        let Some(reference) = &t.provider else {
            continue;
        };
        let Some(provider) = providers.get(&reference.value) else {
            let hint = did_you_mean(&reference.value, providers.keys().map(String::as_str))
                .unwrap_or_else(|| match reference.value.split_once('.') {
                    Some((kind, name)) => {
                        format!("declare it with `provider \"{kind}\" \"{name}\" {{ … }}`")
                    }
                    None => "write `<kind>.<name>`, such as `azure.prod`".to_string(),
                });
            report
                .push_at(
                    &reference.at,
                    codes::UNKNOWN_PROVIDER,
                    format!("unknown provider `{}`", reference.value),
                )
                .hint = Some(hint);
            continue;
        };
        let Some(config) = &provider.config else {
            continue;
        };
        let needs = |attr: &str, why: &str, report: &mut Report| {
            report
                .push_at(
                    &t.at,
                    codes::PROVIDER_NEEDS_ATTRIBUTE,
                    format!("target `{}` needs `{attr}` for {why}", t.name.value),
                )
                .hint = Some(format!("add `{attr} = \"/subscriptions/…\"` to the target"));
        };
        let address = &reference.value;
        match config {
            ProviderConfig::Azure {
                mode: AzureMode::Nsg,
                ..
            } if t.nsg_id.is_none() && t.vm_id.is_none() => {
                report
                    .push_at(
                        &t.at,
                        codes::PROVIDER_NEEDS_ATTRIBUTE,
                        format!(
                            "target `{}` needs `vm_id` or `nsg_id` for provider `{address}` (mode `nsg`)",
                            t.name.value
                        ),
                    )
                    .hint = Some(
                    "add `vm_id = \"/subscriptions/…\"` (jit finds the NSGs that filter the VM) or `nsg_id`"
                        .to_string(),
                );
            }
            ProviderConfig::Azure {
                mode: AzureMode::Defender,
                ..
            } if t.vm_id.is_none() => needs(
                "vm_id",
                &format!("provider `{address}` (mode `defender`)"),
                report,
            ),
            ProviderConfig::Azure {
                mode: AzureMode::Defender,
                ..
            } => super::defender::check_target(
                t,
                provider
                    .policy_name
                    .as_ref()
                    .map_or(crate::model::DEFAULT_POLICY_NAME, |p| p.value.as_str()),
                report,
            ),
            ProviderConfig::Snapshot { .. } if t.nsg_id.is_none() => {
                needs("nsg_id", &format!("snapshot provider `{address}`"), report)
            }
            ProviderConfig::Nftables { .. } => {
                for (attr, value) in [("nsg_id", &t.nsg_id), ("vm_id", &t.vm_id)] {
                    if let Some(v) = value {
                        report
                            .push_at(
                                &v.at,
                                codes::PROVIDER_IGNORES_ATTRIBUTE,
                                format!("`{attr}` is not used by nftables provider `{address}`"),
                            )
                            .hint = Some(
                            "an nftables target is the host jit runs on; remove it".to_string(),
                        );
                    }
                }
            }
            _ => {}
        }
    }
    by_name
}

type Subjects = Vec<(String, At, Subject)>;

fn requests(
    decls: &Decls,
    targets: &HashMap<&str, &TargetDecl>,
    defender: &std::collections::HashSet<&str>,
    settings: Option<&SettingsDecl>,
    approvals: &Approvals,
    report: &mut Report,
) -> (Vec<Grant>, Subjects) {
    let mut seen: HashMap<&str, &At> = HashMap::with_capacity(decls.requests.len());
    let mut grants = Vec::with_capacity(decls.requests.len());
    let mut subjects = Vec::new();
    for r in &decls.requests {
        if let Some(first) = seen.get(r.name.value.as_str()) {
            let hint = first_at(report, first);
            report
                .push_at(
                    &r.name.at,
                    codes::DUPLICATE_NAME,
                    format!("request `{}` is declared twice", r.name.value),
                )
                .hint = Some(hint);
            continue;
        }
        seen.insert(&r.name.value, &r.name.at);
        let before = report.error_count();
        let (ports, source) = request_target(r, targets, report);
        if let Some(t) = r
            .target
            .as_ref()
            .and_then(|t| targets.get(t.value.as_str()))
        {
            if defender.contains(t.name.value.as_str()) {
                super::defender::check_request(r, t, report);
            }
        }
        let subject = subject(r, targets);
        let approvers = approvals.people(r, subject.as_ref(), settings, report);
        if let Some(subject) = subject {
            subjects.push((r.name.value.clone(), r.at.clone(), subject));
        }
        check_justification(
            settings,
            r.justification.as_ref(),
            codes::JUSTIFICATION_MISMATCH,
            report,
        );
        if let (Some(start), Some(d)) = (r.start, &r.duration) {
            let end = start.checked_add(d.value).ok();
            if !end.is_some_and(values::in_time_range) {
                let at = r.start_at.as_ref().unwrap_or(&d.at);
                report
                    .push_at(
                        at,
                        codes::TIME_OUT_OF_RANGE,
                        format!(
                            "request `{}` ends after the last time jit accepts",
                            r.name.value
                        ),
                    )
                    .hint = Some(format!(
                    "start + duration must lie in {}",
                    values::TIME_RANGE
                ));
            }
        }
        if !r.ok || report.error_count() != before {
            continue;
        }
        if let Some(grant) = build_grant(r, ports, source, approvers) {
            grants.push((r, grant));
        }
    }
    let excluded = back_to_back(&grants, targets, report);
    let grants = grants
        .into_iter()
        .enumerate()
        .filter(|(i, _)| !excluded.contains(i))
        .map(|(_, (_, g))| g)
        .collect();
    (grants, subjects)
}

/// Overlapping or back-to-back grants of one person (by `approval::names`) for one target and
/// port form one stretch of access; a stretch longer than the port's `max_duration` is an
/// error at each request that takes it past the limit (those are left out of the policy).
/// Grants with any gap between them are separate stretches.
fn back_to_back(
    grants: &[(&RequestDecl, Grant)],
    targets: &HashMap<&str, &TargetDecl>,
    report: &mut Report,
) -> std::collections::HashSet<usize> {
    let mut groups: HashMap<(String, &str, &str), Vec<usize>> = HashMap::new();
    for (i, (_, g)) in grants.iter().enumerate() {
        for port in &g.ports {
            groups
                .entry((names::key(&g.requester), g.target.as_str(), port.as_str()))
                .or_default()
                .push(i);
        }
    }
    let mut excluded = std::collections::HashSet::new();
    let mut keys = groups.keys().cloned().collect::<Vec<_>>();
    keys.sort();
    for key in keys {
        let mut members = groups[&key].clone();
        if members.len() < 2 {
            continue;
        }
        let (_, target, port) = key;
        let Some(max) = targets
            .get(target)
            .and_then(|t| t.ports.iter().find(|p| p.name.value == port))
            .and_then(|p| p.max_duration)
        else {
            continue;
        };
        members.sort_by_key(|&i| (grants[i].1.start, i));
        let mut first = members[0];
        let mut end = grants[first].1.end();
        for &i in &members[1..] {
            let (r, g) = &grants[i];
            if g.start > end {
                first = i;
                end = g.end();
                continue;
            }
            end = end.max(g.end());
            let start = grants[first].1.start;
            let stretch = end.duration_since(start);
            // Reported once per request, for the first port that takes it past the limit.
            if stretch > max && excluded.insert(i) {
                let (other_decl, other) = &grants[first];
                let hint = format!(
                    "request `{}` (at {}) runs from {} to {}; leave a gap between the requests, or shorten them",
                    other.id,
                    report.position(&other_decl.at),
                    other.start,
                    other.end(),
                );
                report
                    .push_at(
                        &r.at,
                        codes::DURATION_NOT_ALLOWED,
                        format!(
                            "requests `{}` and `{}` give `{}` {} of port `{port}` of target `{target}` without a break, over its `max_duration` `{}`",
                            other.id,
                            g.id,
                            g.requester,
                            crate::duration::span(stretch),
                            crate::duration::span(max)
                        ),
                    )
                    .hint = Some(hint);
            }
        }
    }
    excluded
}

/// The address family of a destination (`None` for `*`, any family).
fn destination_family(destination: &str) -> Option<bool> {
    if let Ok(addr) = destination.parse::<std::net::IpAddr>() {
        return Some(addr.is_ipv4());
    }
    destination
        .parse::<ipnet::IpNet>()
        .ok()
        .map(|n| matches!(n, ipnet::IpNet::V4(_)))
}

fn family_name(v4: bool) -> &'static str {
    if v4 {
        "IPv4"
    } else {
        "IPv6"
    }
}

/// The request's source as granted: `*` becomes the whole family of the target's destination
/// (IPv4 when the destination is `*`). A source of another family than the destination is an
/// error: the rule would never match.
fn request_source(
    r: &RequestDecl,
    target: &TargetDecl,
    report: &mut Report,
) -> Option<Spanned<ipnet::IpNet>> {
    let source = r.source.as_ref()?;
    let wanted = destination_family(&target.destination);
    if r.source_any {
        let [v4, v6] = values::any_source();
        let value = if wanted == Some(false) { v6 } else { v4 };
        return Some(Spanned {
            value,
            at: source.at.clone(),
        });
    }
    let is_v4 = matches!(source.value, ipnet::IpNet::V4(_));
    if let Some(v4) = wanted {
        if v4 != is_v4 {
            report
                .push_at(
                    &source.at,
                    codes::ADDRESS_FAMILY_MISMATCH,
                    format!(
                        "source `{}` is {} but target `{}` has the {} destination `{}`",
                        source.value,
                        family_name(is_v4),
                        target.name.value,
                        family_name(v4),
                        target.destination
                    ),
                )
                .hint = Some(format!(
                "an NSG rule matches one address family; request an {} source",
                family_name(v4)
            ));
            return None;
        }
    }
    Some(source.clone())
}

/// Checks the request against its target and returns the names of its ports and the source
/// it grants.
fn request_target(
    r: &RequestDecl,
    targets: &HashMap<&str, &TargetDecl>,
    report: &mut Report,
) -> (Option<Vec<String>>, Option<ipnet::IpNet>) {
    let Some(reference) = r.target.as_ref() else {
        return (None, None);
    };
    let Some(target) = targets.get(reference.value.as_str()) else {
        let hint = did_you_mean(&reference.value, targets.keys().copied());
        report
            .push_at(
                &reference.at,
                codes::UNKNOWN_TARGET,
                format!("unknown target `{}`", reference.value),
            )
            .hint = hint;
        return (None, None);
    };
    let source = request_source(r, target, report);
    let mut names = Vec::with_capacity(r.ports.len());
    for wanted in &r.ports {
        let Some(port) = find_port(target, &wanted.value) else {
            let listed = target
                .ports
                .iter()
                .map(|p| match p.number {
                    Some(n) => format!("{} ({n})", p.name.value),
                    None => p.name.value.clone(),
                })
                .collect::<Vec<_>>();
            let hint = match &wanted.value {
                PortRef::Name(n) => {
                    did_you_mean(n, target.ports.iter().map(|p| p.name.value.as_str()))
                }
                PortRef::Number(_) => None,
            }
            .unwrap_or_else(|| {
                if listed.is_empty() {
                    format!("target `{}` protects no ports", target.name.value)
                } else {
                    format!(
                        "ports of target `{}` are {}",
                        target.name.value,
                        listed.join(", ")
                    )
                }
            });
            report
                .push_at(
                    &wanted.at,
                    codes::UNKNOWN_PORT,
                    format!(
                        "target `{}` has no port `{}`",
                        target.name.value, wanted.value
                    ),
                )
                .hint = Some(hint);
            continue;
        };
        if names.contains(&port.name.value) {
            report.push_at(
                &wanted.at,
                codes::DUPLICATE_ENTRY,
                format!(
                    "port `{}` is port `{}`, listed already",
                    wanted.value, port.name.value
                ),
            );
            continue;
        }
        names.push(port.name.value.clone());
        if let Some(source) = &source {
            if !port
                .allowed_sources
                .iter()
                .any(|a| a.contains(&source.value))
            {
                let hint = if port.allowed_sources.is_empty() {
                    format!(
                        "port `{}` allows no sources; add `allowed_sources` to it",
                        port.name.value
                    )
                } else {
                    format!(
                        "allowed sources for port `{}` are {}",
                        port.name.value,
                        port.allowed_sources
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                };
                report
                    .push_at(
                        &source.at,
                        codes::SOURCE_NOT_ALLOWED,
                        format!(
                            "source `{}` is not allowed for port `{}` of target `{}`",
                            source.value, port.name.value, target.name.value
                        ),
                    )
                    .hint = Some(hint);
            }
        }
        if let (Some(d), Some(max)) = (&r.duration, port.max_duration) {
            if d.value > max {
                report
                    .push_at(
                        &d.at,
                        codes::DURATION_NOT_ALLOWED,
                        format!(
                            "duration `{}` exceeds the `max_duration` `{}` of port `{}`",
                            crate::duration::span(d.value),
                            crate::duration::span(max),
                            port.name.value
                        ),
                    )
                    .hint = Some(format!(
                    "ask for `{}` or less, or split the work into several requests",
                    crate::duration::span(max)
                ));
            }
        }
    }
    (Some(names), source.map(|s| s.value))
}

pub(super) fn find_port<'t>(target: &'t TargetDecl, wanted: &PortRef) -> Option<&'t PortDecl> {
    match wanted {
        PortRef::Name(n) => target
            .ports
            .iter()
            .find(|p| &p.name.value == n)
            .or_else(|| {
                let number = n.trim().parse::<u16>().ok()?;
                target.ports.iter().find(|p| p.number == Some(number))
            }),
        PortRef::Number(n) => target.ports.iter().find(|p| p.number == Some(*n)),
    }
}

fn build_target(t: &TargetDecl) -> Option<Target> {
    Some(Target {
        name: t.name.value.clone(),
        provider: t.provider.as_ref()?.value.clone(),
        vm_id: t.vm_id.as_ref().map(|v| v.value.clone()),
        nsg_id: t.nsg_id.as_ref().map(|v| v.value.clone()),
        destination: t.destination.clone(),
        ports: t
            .ports
            .iter()
            .map(|p| {
                Some(Port {
                    name: p.name.value.clone(),
                    number: p.number?,
                    protocol: p.protocol,
                    allowed_sources: p.allowed_sources.clone(),
                    max_duration: p.max_duration?,
                })
            })
            .collect::<Option<Vec<_>>>()?,
    })
}

fn build_grant(
    r: &RequestDecl,
    ports: Option<Vec<String>>,
    source: Option<ipnet::IpNet>,
    approvers: Vec<String>,
) -> Option<Grant> {
    let value = |s: &Option<Spanned<String>>| s.as_ref().map(|s| s.value.clone());
    Some(Grant {
        id: r.name.value.clone(),
        target: value(&r.target)?,
        ports: ports?,
        source: source?,
        requester: value(&r.requester)?,
        approvers,
        justification: value(&r.justification)?,
        start: r.start?,
        duration: r.duration.as_ref()?.value,
    })
}
