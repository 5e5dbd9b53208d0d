//! Pure: the plan as Terraform-style text for people. A header, one block per change (`+`
//! create, `~` update, `-` destroy) with its address, its reason and the resource's attributes
//! its schema shows (only the changed ones, `old -> new`, for an update), findings as `Warning:` blocks, accepted
//! findings as `Accepted:` blocks, errors as `Error:` blocks, and the summary line, which counts
//! the findings that need attention. Colour only when the caller asks for it; the words
//! carry all the meaning without it. Scripts should read the JSON plan instead.

use std::io;

use anstyle::{AnsiColor, Effects, Style};

use crate::live::name_from_id;
use crate::plan::{Action, FindingKind, Plan, ResourceChange};
use crate::resource::show_value;

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
        for action in Action::ALL {
            if plan.count(action) > 0 {
                writeln!(out, "  {} {}", paint.symbol(action), action.legend())?;
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
            "{}: {} in {}",
            paint.paint(
                Style::new().fg_color(Some(AnsiColor::Yellow.into())).bold(),
                "Warning"
            ),
            kind_words(finding.kind),
            scope_words(&finding.scope)
        )?;
        writeln!(out, "  {}", finding.message)?;
        writeln!(out)?;
    }
    for accepted in &plan.accepted {
        writeln!(
            out,
            "{}: {} in {}",
            paint.paint(Style::new().bold(), "Accepted"),
            kind_words(accepted.kind),
            scope_words(&accepted.scope)
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
        let title = if warning.code == crate::lang::codes::DEFENDER_STILL_OPEN {
            "grant still open"
        } else {
            "grant open to any source"
        };
        writeln!(
            out,
            "{}: {title} in {}",
            paint.paint(
                Style::new().fg_color(Some(AnsiColor::Yellow.into())).bold(),
                "Warning"
            ),
            scope_words(&warning.scope)
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
        match &error.scope {
            Some(id) => writeln!(out, "  in {} {id}", crate::platform::scope_noun(id))?,
            None => writeln!(out, "  in the configuration")?,
        }
        writeln!(out)?;
    }
    // `1 to add, 0 to change, 0 to destroy.`, as Terraform words it; verbs beyond Terraform's
    // three (Defender's initiate) only when the plan has some.
    let counts = Action::ALL
        .iter()
        .filter(|a| a.is_terraform() || plan.count(**a) > 0)
        .map(|a| format!("{} {}", plan.count(*a), a.counted().0))
        .collect::<Vec<_>>()
        .join(", ");
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
            "{} {counts}.{attention}",
            paint.paint(bold, &format!("Plan incomplete ({n} {errors}):"))
        )
    } else if plan.has_changes() {
        writeln!(out, "{} {counts}.{attention}", paint.paint(bold, "Plan:"))
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

pub use crate::platform::scope_noun;

/// `NSG web-nsg`: the scope's kind and name.
pub fn scope_words(id: &str) -> String {
    format!("{} {}", crate::platform::scope_noun(id), name_from_id(id))
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
    let comment = Style::new().effects(Effects::DIMMED);
    writeln!(
        out,
        "  {}",
        paint.paint(
            comment,
            &format!("# {} {}", change.address, action.future())
        )
    )?;
    writeln!(
        out,
        "  {}",
        paint.paint(comment, &format!("# ({})", change.reason))
    )?;
    let (before, after) = (&change.change.before, &change.change.after);
    let Some(schema) = after.as_ref().or(before.as_ref()).map(|r| r.schema) else {
        return Ok(());
    };
    writeln!(
        out,
        "  {} resource \"{}\" \"{}\" {{",
        paint.symbol(action),
        schema.type_name,
        change.address
    )?;
    // The schema's shown attributes: every one set for a create or destroy, the changed ones
    // (`old -> new`) for an update.
    let shown = schema.attributes.iter().filter(|a| a.shown);
    let lines: Vec<(Action, &str, String)> = match (before, after) {
        (Some(before), Some(after)) => shown
            .filter(|a| !a.same(before.get(a.name), after.get(a.name)))
            .map(|a| {
                let (old, new) = (before.get(a.name), after.get(a.name));
                (
                    Action::Update,
                    a.name,
                    format!("{} -> {}", show_value(old), show_value(new)),
                )
            })
            .collect(),
        (Some(side), None) | (None, Some(side)) => shown
            .filter(|a| !side.get(a.name).is_null())
            .map(|a| (action, a.name, show_value(side.get(a.name))))
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
            Action::Initiate => AnsiColor::Cyan,
        };
        self.paint(
            Style::new().fg_color(Some(color.into())),
            &action.symbol().to_string(),
        )
    }
}
