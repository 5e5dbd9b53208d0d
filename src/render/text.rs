//! Pure: the plan as Terraform-style text for people. A header, one block per change (`+`
//! create, `~` update, `-` destroy) with its address, its reason and the rule's properties (only
//! the changed ones, `old -> new`, for an update), findings as `Warning:` blocks, accepted
//! findings as `Accepted:` blocks, errors as `Error:` blocks, and the summary line, which counts
//! the findings that need attention. Colour only when the caller asks for it; the words
//! carry all the meaning without it. Scripts should read the JSON plan instead.

use std::io;

use anstyle::{AnsiColor, Effects, Style};

use crate::live::name_from_id;
use crate::nsg::Rule;
use crate::plan::{Action, FindingKind, Plan, ResourceChange};

/// Writes `plan` as text. `color` adds ANSI colours (the caller decides: a TTY, no `NO_COLOR`).
pub fn render(plan: &Plan, color: bool, out: &mut dyn io::Write) -> io::Result<()> {
    let paint = Paint { color };
    match plan.valid_until {
        Some(until) => writeln!(out, "jit plan at {}, valid until {until}", plan.created_at)?,
        None => writeln!(out, "jit plan at {}", plan.created_at)?,
    }
    writeln!(out)?;
    if plan.has_changes() {
        writeln!(
            out,
            "Resource actions are indicated with the following symbols:"
        )?;
        for (action, words) in [
            (Action::Create, "create"),
            (Action::Update, "update in-place"),
            (Action::Delete, "destroy"),
        ] {
            if plan.resource_changes.iter().any(|c| c.action() == action) {
                writeln!(out, "  {} {words}", paint.symbol(action))?;
            }
        }
        writeln!(out)?;
        writeln!(out, "jit will perform the following actions:")?;
        for change in &plan.resource_changes {
            writeln!(out)?;
            render_change(change, paint, out)?;
        }
        writeln!(out)?;
    }
    for finding in &plan.findings {
        writeln!(
            out,
            "{}: {} in NSG {}",
            paint.paint(
                Style::new().fg_color(Some(AnsiColor::Yellow.into())).bold(),
                "Warning"
            ),
            kind_words(finding.kind),
            name_from_id(&finding.nsg_id)
        )?;
        writeln!(out, "  {}", finding.message)?;
        writeln!(out)?;
    }
    for accepted in &plan.accepted {
        writeln!(
            out,
            "{}: {} in NSG {}",
            paint.paint(Style::new().bold(), "Accepted"),
            kind_words(accepted.kind),
            name_from_id(&accepted.nsg_id)
        )?;
        writeln!(out, "  {}", accepted.message)?;
        writeln!(
            out,
            "  accepted by `{}` until {}: {}",
            accepted.accept, accepted.expires, accepted.justification
        )?;
        writeln!(out)?;
    }
    for warning in &plan.warnings {
        writeln!(
            out,
            "{}: grant open to any source in NSG {}",
            paint.paint(
                Style::new().fg_color(Some(AnsiColor::Yellow.into())).bold(),
                "Warning"
            ),
            name_from_id(&warning.nsg_id)
        )?;
        writeln!(out, "  {}", warning.message)?;
        writeln!(out)?;
    }
    for error in &plan.errors {
        writeln!(
            out,
            "{}: {}",
            paint.paint(
                Style::new().fg_color(Some(AnsiColor::Red.into())).bold(),
                "Error"
            ),
            error.message
        )?;
        match &error.nsg_id {
            Some(id) => writeln!(out, "  in NSG {id}")?,
            None => writeln!(out, "  in the configuration")?,
        }
        writeln!(out)?;
    }
    let (add, change, destroy) = plan.counts();
    let bold = Style::new().effects(Effects::BOLD);
    let attention = match plan.findings.len() {
        0 => String::new(),
        1 => " 1 finding needs attention.".to_string(),
        n => format!(" {n} findings need attention."),
    };
    if !plan.errors.is_empty() {
        let n = plan.errors.len();
        let errors = if n == 1 { "error" } else { "errors" };
        writeln!(
            out,
            "{} {add} to add, {change} to change, {destroy} to destroy.{attention}",
            paint.paint(bold, &format!("Plan incomplete ({n} {errors}):"))
        )
    } else if plan.has_changes() {
        writeln!(
            out,
            "{} {add} to add, {change} to change, {destroy} to destroy.{attention}",
            paint.paint(bold, "Plan:")
        )
    } else if plan.has_findings() {
        writeln!(out, "{}{attention}", paint.paint(bold, "No changes."))
    } else {
        writeln!(
            out,
            "{} Live state matches the policy.",
            paint.paint(bold, "No changes.")
        )
    }
}

fn kind_words(kind: FindingKind) -> &'static str {
    match kind {
        FindingKind::Exposure => "exposure",
        FindingKind::Overdue => "overdue grant",
        FindingKind::PriorityClash => "priority clash",
    }
}

fn render_change(change: &ResourceChange, paint: Paint, out: &mut dyn io::Write) -> io::Result<()> {
    let action = change.action();
    let verb = match action {
        Action::Create => "will be created",
        Action::Update => "will be updated in-place",
        Action::Delete => "will be destroyed",
    };
    let comment = Style::new().effects(Effects::DIMMED);
    writeln!(
        out,
        "  {}",
        paint.paint(comment, &format!("# {} {verb}", change.address))
    )?;
    writeln!(
        out,
        "  {}",
        paint.paint(comment, &format!("# ({})", change.reason))
    )?;
    writeln!(
        out,
        "  {} security_rule \"{}\" {{",
        paint.symbol(action),
        change.address
    )?;
    // Application security groups are shown only when a side has some (jit's rules never do).
    let asgs = [&change.change.before, &change.change.after]
        .into_iter()
        .flatten()
        .any(|r| !r.source_asgs.is_empty() || !r.destination_asgs.is_empty());
    let lines: Vec<(Action, &str, String)> = match (&change.change.before, &change.change.after) {
        (Some(before), Some(after)) => properties(before, asgs)
            .into_iter()
            .zip(properties(after, asgs))
            .filter(|((key, old), (_, new))| {
                if *key == "protocol" {
                    !old.eq_ignore_ascii_case(new)
                } else {
                    old != new
                }
            })
            .map(|((key, old), (_, new))| (Action::Update, key, format!("{old} -> {new}")))
            .collect(),
        (None, Some(rule)) => properties(rule, asgs)
            .into_iter()
            .map(|(k, v)| (Action::Create, k, v))
            .collect(),
        (Some(rule), None) => properties(rule, asgs)
            .into_iter()
            .map(|(k, v)| (Action::Delete, k, v))
            .collect(),
        (None, None) => Vec::new(),
    };
    let width = lines.iter().map(|(_, key, _)| key.len()).max().unwrap_or(0);
    for (action, key, value) in &lines {
        writeln!(
            out,
            "      {} {key:width$} = {value}",
            paint.symbol(*action)
        )?;
    }
    writeln!(out, "    }}")
}

/// The displayed properties of a rule, in a fixed order, values as they read in HCL; with
/// `asgs`, the application security groups too (azurerm's names).
fn properties(rule: &Rule, asgs: bool) -> Vec<(&'static str, String)> {
    let list = |items: &[String]| match items {
        [one] => quote(one),
        many => format!(
            "[{}]",
            many.iter().map(|s| quote(s)).collect::<Vec<_>>().join(", ")
        ),
    };
    let mut out = vec![
        ("priority", rule.priority.to_string()),
        ("direction", quote(&rule.direction.to_string())),
        ("access", quote(&rule.access.to_string())),
        ("protocol", quote(&rule.protocol)),
        ("source_address_prefix", list(&rule.sources)),
        ("source_port_range", list(&rule.source_ports)),
        ("destination_address_prefix", list(&rule.destinations)),
        ("destination_port_range", list(&rule.destination_ports)),
        (
            "description",
            rule.description
                .as_deref()
                .map_or("null".to_string(), quote),
        ),
    ];
    if asgs {
        out.push((
            "source_application_security_group_ids",
            list(&rule.source_asgs),
        ));
        out.push((
            "destination_application_security_group_ids",
            list(&rule.destination_asgs),
        ));
    }
    out
}

fn quote(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

#[derive(Clone, Copy)]
struct Paint {
    color: bool,
}

impl Paint {
    fn paint(&self, style: Style, text: &str) -> String {
        if self.color {
            format!("{}{text}{}", style.render(), style.render_reset())
        } else {
            text.to_string()
        }
    }

    fn symbol(&self, action: Action) -> String {
        let color = match action {
            Action::Create => AnsiColor::Green,
            Action::Update => AnsiColor::Yellow,
            Action::Delete => AnsiColor::Red,
        };
        self.paint(
            Style::new().fg_color(Some(color.into())),
            &action.symbol().to_string(),
        )
    }
}
