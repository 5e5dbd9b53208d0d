//! Diagnostics: one finding about the config files, with its position, stable code, message
//! and hint. Collected (never stop at the first) and rendered as text, JSON or GitHub
//! workflow annotations.

use serde::Serialize;

pub mod span;
pub mod suggest;

pub use suggest::did_you_mean;

/// One config file's text, with the path to show in diagnostics.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: String,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// A problem in a config file. `line` and `column` are 1-based; `offset`/`len` are the byte
/// span in the file's text, for carets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// The path as the user would type it (relative to the working directory).
    pub file: String,
    pub line: usize,
    pub column: usize,
    #[serde(skip)]
    pub offset: usize,
    #[serde(skip)]
    pub len: usize,
    pub severity: Severity,
    /// Stable, e.g. `E012`; documented in the README.
    pub code: &'static str,
    /// Lowercase phrase, no trailing period.
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// How many of `diagnostics` are errors (not warnings).
pub fn error_count(diagnostics: &[Diagnostic]) -> usize {
    diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count()
}

/// rustc-like text:
///
/// ```text
/// error[E012]: unknown attribute `allowed_source` in port `ssh` of target `web-1`
///   --> policy.hcl:24:5
///    |
/// 24 |     allowed_source = ["198.51.100.0/24"]
///    |     ^^^^^^^^^^^^^^
///    |
///    = hint: did you mean `allowed_sources`?
/// ```
pub fn render_text(
    w: &mut dyn std::io::Write,
    diagnostics: &[Diagnostic],
    sources: &[SourceFile],
    color: bool,
) -> std::io::Result<()> {
    use anstyle::{AnsiColor, Style};
    let paint = |style: Style, text: &str| {
        if color {
            format!("{}{text}{}", style.render(), style.render_reset())
        } else {
            text.to_string()
        }
    };
    let red = Style::new().bold().fg_color(Some(AnsiColor::Red.into()));
    let yellow = Style::new().bold().fg_color(Some(AnsiColor::Yellow.into()));
    let blue = Style::new().bold().fg_color(Some(AnsiColor::Blue.into()));
    let bold = Style::new().bold();
    for d in diagnostics {
        let (label, style) = match d.severity {
            Severity::Error => ("error", red),
            Severity::Warning => ("warning", yellow),
        };
        writeln!(
            w,
            "{}{}",
            paint(style, &format!("{label}[{}]", d.code)),
            paint(bold, &format!(": {}", d.message))
        )?;
        let width = d.line.to_string().len();
        let pad = " ".repeat(width);
        writeln!(
            w,
            "{pad}{} {}:{}:{}",
            paint(blue, "-->"),
            d.file,
            d.line,
            d.column
        )?;
        let text = sources
            .iter()
            .find(|s| s.path == d.file)
            .map(|s| s.text.as_str());
        if let Some(text) = text {
            let (start, end) = span::line_bounds(text, d.offset);
            let line = &text[start..end];
            let offset = span::floor_char_boundary(text, d.offset.max(start));
            let lead = expand_tabs(&text[start..offset.min(end)]);
            let stop = span::floor_char_boundary(text, (d.offset + d.len).min(end));
            let marked = expand_tabs(&text[offset.min(end)..stop.max(offset.min(end))]);
            let carets = marked.chars().count().max(1);
            let gutter = paint(blue, &format!("{pad} |"));
            writeln!(w, "{gutter}")?;
            writeln!(
                w,
                "{} {}",
                paint(blue, &format!("{} |", d.line)),
                expand_tabs(line)
            )?;
            writeln!(
                w,
                "{gutter} {}{}",
                " ".repeat(lead.chars().count()),
                paint(style, &"^".repeat(carets))
            )?;
        }
        if let Some(hint) = &d.hint {
            if text.is_some() {
                writeln!(w, "{}", paint(blue, &format!("{pad} |")))?;
            }
            writeln!(w, "{pad} {} {hint}", paint(bold, "= hint:"))?;
        }
        writeln!(w)?;
    }
    Ok(())
}

fn expand_tabs(s: &str) -> String {
    s.replace('\t', "    ")
}

/// A JSON list; every object has the same keys (`hint` is `null` when there is none).
pub fn render_json(w: &mut dyn std::io::Write, diagnostics: &[Diagnostic]) -> std::io::Result<()> {
    let list = diagnostics
        .iter()
        .map(|d| {
            serde_json::json!({
                "file": d.file,
                "line": d.line,
                "column": d.column,
                "severity": d.severity,
                "code": d.code,
                "message": d.message,
                "hint": d.hint,
            })
        })
        .collect::<Vec<_>>();
    serde_json::to_writer_pretty(&mut *w, &list)?;
    writeln!(w)
}

/// GitHub Actions workflow commands, one line each; the hint follows the message on a second
/// line of the annotation.
pub fn render_github(
    w: &mut dyn std::io::Write,
    diagnostics: &[Diagnostic],
) -> std::io::Result<()> {
    for d in diagnostics {
        let kind = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut message = d.message.clone();
        if let Some(hint) = &d.hint {
            message.push_str("\nhint: ");
            message.push_str(hint);
        }
        writeln!(
            w,
            "::{kind} file={},line={},col={},title={}::{}",
            escape_property(&d.file),
            d.line,
            d.column,
            d.code,
            escape_data(&message)
        )?;
    }
    Ok(())
}

fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diag() -> Diagnostic {
        Diagnostic {
            file: "policy.hcl".to_string(),
            line: 2,
            column: 3,
            offset: 12,
            len: 8,
            severity: Severity::Error,
            code: "E012",
            message: "unknown attribute `protocl` in port `ssh`".to_string(),
            hint: Some("did you mean `protocol`?".to_string()),
        }
    }

    fn text(sources: &[SourceFile]) -> String {
        let mut out = Vec::new();
        render_text(&mut out, &[diag()], sources, false).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn text_shows_line_caret_and_hint() {
        let sources = [SourceFile {
            path: "policy.hcl".to_string(),
            text: "port \"ssh\" {\n  protocl = \"tcp\"\n}\n".to_string(),
        }];
        let expected = "error[E012]: unknown attribute `protocl` in port `ssh`\n \
--> policy.hcl:2:3\n  |\n2 |   protocl = \"tcp\"\n  |   ^^^^^^^\n  |\n  = hint: did you mean `protocol`?\n\n";
        // The span (12..20) starts at the line's first byte; the caret starts at column 3.
        let mut d = diag();
        d.offset = 15;
        d.len = 7;
        let mut out = Vec::new();
        render_text(&mut out, &[d], &sources, false).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), expected);
    }

    #[test]
    fn text_without_source_still_names_the_place() {
        let out = text(&[]);
        assert!(out.contains("--> policy.hcl:2:3"), "{out}");
        assert!(out.contains("= hint: did you mean `protocol`?"), "{out}");
    }

    #[test]
    fn json_has_every_key() {
        let mut out = Vec::new();
        render_json(&mut out, &[diag()]).unwrap();
        let out = String::from_utf8(out).unwrap();
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v[0]["file"], "policy.hcl");
        assert_eq!(v[0]["line"], 2);
        assert_eq!(v[0]["column"], 3);
        assert_eq!(v[0]["severity"], "error");
        assert_eq!(v[0]["code"], "E012");
        assert_eq!(v[0]["hint"], "did you mean `protocol`?");
    }

    #[test]
    fn github_escapes_and_keeps_one_line() {
        let mut d = diag();
        d.file = "a,b:c.hcl".to_string();
        d.message = "50% done".to_string();
        let mut out = Vec::new();
        render_github(&mut out, &[d]).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "::error file=a%2Cb%3Ac.hcl,line=2,col=3,title=E012::50%25 done%0Ahint: did you mean `protocol`?\n"
        );
    }
}
