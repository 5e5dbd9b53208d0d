//! What Defender for Cloud refuses, checked before anything is sent: a `policy_name` that
//! cannot name a JIT policy (or is set where no JIT policy is written), a policy name plus VM
//! name over Defender's 56 characters, a request source narrower than the port's allowed
//! source (Defender refuses it; the port must allow exactly that source, or `*`), and a
//! request shorter than Defender's shortest window. Codes E100–E104.

use super::decl::{PortRef, RequestDecl, Spanned, TargetDecl};
use super::decode::Cx;
use super::report::Bad;
use super::report::Report;
use super::validate::find_port;
use crate::model::{AzureMode, DEFAULT_POLICY_NAME};

/// Defender's limit on policy name + VM name.
pub const NAME_LIMIT: usize = 56;
/// Defender's shortest window.
pub const MIN_WINDOW: jiff::SignedDuration = jiff::SignedDuration::from_mins(5);

/// `policy_name` on an azure provider: 1–55 of letters, digits, `-`, `_`, `.`; only in mode
/// `defender`.
pub fn check_policy_name(cx: &mut Cx, name: &Spanned<String>, mode: AzureMode) {
    let valid = (1..NAME_LIMIT).contains(&name.value.len())
        && name
            .value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.value.starts_with('.');
    if !valid {
        cx.bad(
            Bad::new(
                name.at.span.clone(),
                super::codes::INVALID_POLICY_NAME,
                format!("invalid `policy_name` `{}`", name.value),
            )
            .hint(format!(
                "use up to {} letters, digits, `-`, `_` or `.`, such as `{DEFAULT_POLICY_NAME}` (the default)",
                NAME_LIMIT - 1
            )),
        );
    } else if mode == AzureMode::Nsg {
        cx.bad(
            Bad::new(
                name.at.span.clone(),
                super::codes::POLICY_NAME_UNUSED,
                "`policy_name` is used only in mode `defender`",
            )
            .hint("in mode `nsg` jit writes NSG rules, not a JIT policy: set `mode = \"defender\"` or remove `policy_name`"),
        );
    }
}

/// The VM's name: the last segment of its id.
fn vm_name(vm_id: &str) -> &str {
    vm_id
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(vm_id)
}

/// A target of a Defender-mode provider: policy name + VM name within 56 characters.
pub fn check_target(t: &TargetDecl, policy_name: &str, report: &mut Report) {
    let Some(vm) = &t.vm_id else { return };
    let name = vm_name(&vm.value);
    let total = policy_name.len() + name.len();
    if total > NAME_LIMIT {
        report
            .push_at(
                &vm.at,
                super::codes::DEFENDER_NAME_TOO_LONG,
                format!(
                    "policy name `{policy_name}` and VM name `{name}` are {total} characters together; Defender allows {NAME_LIMIT}"
                ),
            )
            .hint = Some(format!(
            "set a shorter `policy_name` on the provider (at most {} characters for this VM)",
            NAME_LIMIT.saturating_sub(name.len())
        ));
    }
}

/// A request to a target of a Defender-mode provider: its source is one of each requested
/// port's allowed sources (or the port allows `*`), and it lasts at least 5 minutes.
/// Sources outside every allowed source are E045's, not repeated here.
pub fn check_request(r: &RequestDecl, target: &TargetDecl, report: &mut Report) {
    if let Some(d) = &r.duration {
        if d.value < MIN_WINDOW && d.value.is_positive() {
            report
                .push_at(
                    &d.at,
                    super::codes::DEFENDER_WINDOW,
                    format!(
                        "duration `{}` is shorter than Defender's shortest window of 5 minutes",
                        crate::duration::span(d.value)
                    ),
                )
                .hint = Some(
                "Defender opens ports for 5 minutes to 1 day; ask for `5m` or more".to_string(),
            );
        }
    }
    let Some(source) = &r.source else { return };
    let wanted = source.value.trunc();
    for port_ref in &r.ports {
        let Some(port) = find_port(target, &port_ref.value) else {
            continue;
        };
        let any = port.allowed_sources.iter().any(|a| a.prefix_len() == 0);
        let inside = port.allowed_sources.iter().any(|a| a.contains(&wanted));
        let exact = port.allowed_sources.iter().any(|a| a.trunc() == wanted);
        if any || !inside || exact {
            continue;
        }
        let allowed = port
            .allowed_sources
            .iter()
            .filter(|a| a.contains(&wanted))
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("`, `");
        let shown = match &port_ref.value {
            PortRef::Name(n) => n.clone(),
            PortRef::Number(n) => n.to_string(),
        };
        report
            .push_at(
                &source.at,
                super::codes::DEFENDER_SOURCE_NOT_EXACT,
                format!(
                    "source `{}` is narrower than the allowed source of port `{shown}` of target `{}`, and Defender refuses narrower requests",
                    source.value, target.name.value
                ),
            )
            .hint = Some(format!(
            "in mode `defender` a request's source must equal one of the port's `allowed_sources` (here `{allowed}`), or the port must allow `*`"
        ));
    }
}
