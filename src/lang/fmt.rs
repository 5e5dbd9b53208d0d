//! `jit fmt`'s core: HCL text → the same configuration in one canonical layout, every comment
//! kept. Pure: text in, text out.
//!
//! The layout follows `terraform fmt`:
//!
//! - two spaces of indentation per block level; comment lines take the indentation of the
//!   structures around them;
//! - one space around `=`, and the `=` of consecutive single-line attributes aligned. A blank
//!   line, a comment-only line, a block or an attribute whose value spans several lines ends the
//!   run (as Terraform does: `tags = {` is never padded to line up with its neighbours);
//! - trailing comments of consecutive aligned lines start in one column;
//! - runs of blank lines collapse to one; none at the start or end of a block or file;
//! - block headers as `type "label" {`; an empty block as `type "label" {}`; a one-line block
//!   (`port "x" { number = 22 }`) stays on one line;
//! - single-line arrays as `[a, b]` (no trailing comma); arrays written over several lines keep
//!   their line breaks, each line re-indented one level deeper than the line that opens them
//!   and `]` back at that line's indentation;
//! - every other expression (strings, numbers, heredocs, function calls, objects …) is kept
//!   exactly as written, byte for byte, so escapes and heredoc bodies never change.
//!
//! Comments (`#`, `//`, `/* */`, trailing or on their own line) are kept with their text
//! unchanged; only the whitespace around them moves (trailing whitespace of a line comment is
//! dropped). Formatting is idempotent: `format(format(x)) == format(x)`.
//!
//! Parsing goes through `hcl::edit`, which keeps whitespace and comments as "decor" around every
//! node; `hcl::format` would drop comments and is never used.

use hcl::edit::expr::{Array, Expression};
use hcl::edit::structure::{Attribute, Block, BlockLabel, Body, Structure};
use hcl::edit::{Decor, Decorate, Span};

/// The text is not HCL. `line` and `column` are 1-based; `offset` is a byte offset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    pub line: usize,
    pub column: usize,
    pub offset: usize,
    pub message: String,
}

/// Formats one file's text. Text that does not parse is an error and nothing is formatted.
pub fn format(text: &str) -> Result<String, ParseError> {
    let body = hcl::edit::parser::parse_body(text).map_err(|err| {
        let location = err.location();
        ParseError {
            line: location.line(),
            column: location.column(),
            offset: location.offset(),
            message: parse_message(err.message()),
        }
    })?;
    let printer = Printer { src: text };
    let mut out = String::new();
    printer.body_lines(&body, 0, &mut out);
    Ok(out)
}

/// hcl-edit's messages are one line such as "invalid expression; expected `}`"; they are
/// already lowercase phrases.
fn parse_message(message: &str) -> String {
    let message = message.trim().trim_end_matches('.');
    if message.is_empty() {
        "invalid HCL".to_string()
    } else {
        message.to_string()
    }
}

fn indent(level: usize) -> String {
    "  ".repeat(level)
}

fn width(text: &str) -> usize {
    text.chars().count()
}

/// A piece of whitespace-and-comments between two tokens, as hcl-edit keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trivia<'a> {
    Newline,
    Comment(&'a str),
}

/// Splits decor into newlines and comments; other whitespace is dropped.
fn lex(raw: &str) -> Vec<Trivia<'_>> {
    let bytes = raw.as_bytes();
    let mut items = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => {
                items.push(Trivia::Newline);
                i += 1;
            }
            b'#' => i = line_comment(raw, i, &mut items),
            b'/' if bytes.get(i + 1) == Some(&b'/') => i = line_comment(raw, i, &mut items),
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let end = raw[i + 2..]
                    .find("*/")
                    .map_or(raw.len(), |at| i + 2 + at + 2);
                items.push(Trivia::Comment(&raw[i..end]));
                i = end;
            }
            _ => i += 1,
        }
    }
    items
}

fn line_comment<'a>(raw: &'a str, start: usize, items: &mut Vec<Trivia<'a>>) -> usize {
    let end = raw[start..].find('\n').map_or(raw.len(), |at| start + at);
    items.push(Trivia::Comment(raw[start..end].trim_end()));
    end
}

/// The comments of decor, line by line: `lines(d).len()` is one more than its newline count.
fn lines(raw: &str) -> Vec<Vec<&str>> {
    let mut out = vec![Vec::new()];
    for item in lex(raw) {
        match item {
            Trivia::Newline => out.push(Vec::new()),
            Trivia::Comment(c) => out.last_mut().expect("never empty").push(c),
        }
    }
    out
}

/// All comments of decor, ignoring line breaks.
fn comments(raw: &str) -> Vec<&str> {
    lex(raw)
        .into_iter()
        .filter_map(|item| match item {
            Trivia::Comment(c) => Some(c),
            Trivia::Newline => None,
        })
        .collect()
}

fn prefix_of(decor: &Decor) -> &str {
    decor.prefix().map_or("", |raw| raw)
}

fn suffix_of(decor: &Decor) -> &str {
    decor.suffix().map_or("", |raw| raw)
}

/// `" c1 c2"` for comments that follow a token on its line; empty without comments.
fn after(comments: &[&str]) -> String {
    comments.iter().map(|c| format!(" {c}")).collect()
}

/// `"c1 c2 "` for comments that precede a token on its line; empty without comments.
fn before(comments: &[&str]) -> String {
    comments.iter().map(|c| format!("{c} ")).collect()
}

/// One line (or, for blocks and multi-line attributes, one group of lines) of a body.
enum Entry {
    Blank,
    Comment(String),
    /// `lead` is everything before `=`, `assign` is `= value`.
    Attribute {
        lead: String,
        assign: String,
        comment: Option<String>,
        single_line: bool,
    },
    /// A block, already rendered; lines after the first carry their own indentation.
    Text(String),
}

struct Printer<'s> {
    src: &'s str,
}

impl Printer<'_> {
    /// The structures of `body` at `level`, one entry per line, each ending in a newline.
    fn body_lines(&self, body: &Body, level: usize, out: &mut String) {
        let mut entries: Vec<Entry> = Vec::new();
        let push_line = |entries: &mut Vec<Entry>, line: &[&str]| {
            if line.is_empty() {
                if !entries.is_empty() && !matches!(entries.last(), Some(Entry::Blank)) {
                    entries.push(Entry::Blank);
                }
            } else {
                entries.push(Entry::Comment(line.join(" ")));
            }
        };
        for structure in body.iter() {
            let mut prefix = lines(prefix_of(structure.decor()));
            let lead = prefix.pop().unwrap_or_default();
            for line in &prefix {
                push_line(&mut entries, line);
            }
            let trailing = comments(suffix_of(structure.decor()));
            let trailing = (!trailing.is_empty()).then(|| trailing.join(" "));
            match structure {
                Structure::Attribute(attr) => {
                    let (key, assign) = self.attribute(attr, level);
                    entries.push(Entry::Attribute {
                        lead: format!("{}{key}", before(&lead)),
                        single_line: !assign.contains('\n'),
                        assign,
                        comment: trailing,
                    });
                }
                Structure::Block(block) => {
                    let mut text = format!("{}{}", before(&lead), self.block(block, level));
                    if let Some(comment) = trailing {
                        text.push(' ');
                        text.push_str(&comment);
                    }
                    entries.push(Entry::Text(text));
                }
            }
        }
        // Comments after the last structure, before `}` or the end of the file.
        for line in lines(suffix_of(body.decor())) {
            push_line(&mut entries, &line);
        }
        while matches!(entries.last(), Some(Entry::Blank)) {
            entries.pop();
        }
        emit(&entries, &indent(level), out);
    }

    /// `(key, "= value")`, comments kept where they were.
    fn attribute(&self, attr: &Attribute, level: usize) -> (String, String) {
        let key = format!(
            "{}{}",
            attr.key.as_str(),
            after(&comments(suffix_of(attr.key.decor())))
        );
        let value = &attr.value;
        let assign = format!(
            "= {}{}{}",
            before(&comments(prefix_of(value.decor()))),
            self.expr(value, level),
            after(&comments(suffix_of(value.decor())))
        );
        (key, assign)
    }

    fn block(&self, block: &Block, level: usize) -> String {
        let mut head = block.ident.as_str().to_string();
        head.push_str(&after(&comments(suffix_of(block.ident.decor()))));
        for label in &block.labels {
            let (text, decor) = match label {
                BlockLabel::String(s) => (self.source(s.span()), s.decor()),
                BlockLabel::Ident(i) => (self.source(i.span()), i.decor()),
            };
            let text = text.map_or_else(
                || match label {
                    BlockLabel::String(s) => format!("{:?}", s.as_str()),
                    BlockLabel::Ident(i) => i.as_str().to_string(),
                },
                str::to_string,
            );
            head.push(' ');
            head.push_str(&text);
            head.push_str(&after(&comments(suffix_of(decor))));
        }
        let body = &block.body;
        let inner_comments = comments(prefix_of(body.decor()));
        let closing_comments = comments(suffix_of(body.decor()));
        if body.prefer_oneline() && body.iter().all(|s| s.is_attribute()) && body.len() <= 1 {
            // `type "label" { key = value }`
            let mut parts: Vec<String> = inner_comments.iter().map(|c| c.to_string()).collect();
            if let Some(Structure::Attribute(attr)) = body.get(0) {
                let (key, assign) = self.attribute(attr, level);
                parts.push(format!(
                    "{}{key} {assign}{}",
                    before(&comments(prefix_of(attr.decor()))),
                    after(&comments(suffix_of(attr.decor())))
                ));
            }
            parts.extend(closing_comments.iter().map(|c| c.to_string()));
            return if parts.is_empty() {
                format!("{head} {{}}")
            } else {
                format!("{head} {{ {} }}", parts.join(" "))
            };
        }
        let mut inner = String::new();
        self.body_lines(body, level + 1, &mut inner);
        if inner.is_empty() && inner_comments.is_empty() {
            return format!("{head} {{}}");
        }
        format!(
            "{head} {{{}\n{inner}{}}}",
            after(&inner_comments),
            indent(level)
        )
    }

    /// An expression without its outer decor. `level` is the indentation of the line it starts
    /// on.
    fn expr(&self, expr: &Expression, level: usize) -> String {
        match expr {
            Expression::Array(array) => self.array(array, level),
            other => match self.source(other.span()) {
                Some(text) => text.to_string(),
                None => {
                    let mut bare = other.clone();
                    bare.decor_mut().clear();
                    bare.to_string()
                }
            },
        }
    }

    fn source(&self, span: Option<std::ops::Range<usize>>) -> Option<&str> {
        span.and_then(|span| self.src.get(span))
    }

    fn array(&self, array: &Array, level: usize) -> String {
        let values: Vec<&Expression> = array.iter().collect();
        let n = values.len();
        // The whitespace after the last value: its suffix, the trailing comma, the rest.
        let closing = if array.trailing_comma() || n == 0 {
            array.trailing().to_string()
        } else {
            format!(
                "{}{}",
                suffix_of(values[n - 1].decor()),
                array.trailing().as_ref() as &str
            )
        };
        let has_newline = |raw: &str| lex(raw).contains(&Trivia::Newline);
        let multi_line = has_newline(&closing)
            || values.iter().enumerate().any(|(i, v)| {
                has_newline(prefix_of(v.decor()))
                    || ((i + 1 < n || array.trailing_comma()) && has_newline(suffix_of(v.decor())))
            });

        let mut out = String::from("[");
        if !multi_line {
            for (i, value) in values.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&before(&comments(prefix_of(value.decor()))));
                out.push_str(&self.expr(value, level + 1));
                if i + 1 < n {
                    out.push_str(&after(&comments(suffix_of(value.decor()))));
                }
            }
            let closing = comments(&closing);
            if n == 0 {
                out.push_str(&closing.join(" "));
            } else {
                out.push_str(&after(&closing));
            }
            out.push(']');
            return out;
        }

        for (i, value) in values.iter().enumerate() {
            let gap = Gap {
                raw: prefix_of(value.decor()),
                level: level + 1,
                first: i == 0,
                last: false,
                trailing: false,
            };
            gap.write(i > 0, &mut out);
            out.push_str(&self.expr(value, level + 1));
            if i + 1 < n || array.trailing_comma() {
                let gap = Gap {
                    raw: suffix_of(value.decor()),
                    level: level + 1,
                    first: false,
                    last: false,
                    trailing: true,
                };
                gap.write(false, &mut out);
                out.push(',');
            }
        }
        let gap = Gap {
            raw: &closing,
            level,
            first: n == 0,
            last: true,
            trailing: true,
        };
        gap.write(false, &mut out);
        out.push(']');
        out
    }
}

/// Whitespace and comments between two tokens inside a multi-line array.
struct Gap<'a> {
    raw: &'a str,
    /// Indentation of the token after the gap when the gap ends a line.
    level: usize,
    /// Directly after `[`: no blank line may follow.
    first: bool,
    /// Directly before `]`: no blank line may precede.
    last: bool,
    /// Comments on the line of the token before the gap follow it (`value /* c */,`) rather
    /// than precede the next token (`, /* c */ value`).
    trailing: bool,
}

impl Gap<'_> {
    /// Writes the gap; `space` separates the tokens when they stay on one line.
    fn write(&self, space: bool, out: &mut String) {
        let mut lines = lines(self.raw);
        if lines.len() == 1 {
            let comments = &lines[0];
            if space {
                out.push(' ');
            }
            if self.trailing {
                out.push_str(&after(comments));
            } else {
                out.push_str(&before(comments));
            }
            return;
        }
        let next = lines.pop().unwrap_or_default();
        let mut rest = lines.into_iter();
        out.push_str(&after(&rest.next().unwrap_or_default()));
        let mut started = !self.first;
        let mut blank = false;
        for line in rest {
            if line.is_empty() {
                blank = started;
                continue;
            }
            if blank {
                out.push('\n');
            }
            blank = false;
            started = true;
            out.push('\n');
            out.push_str(&indent(self.level + usize::from(self.last)));
            out.push_str(&line.join(" "));
        }
        if blank && !self.last {
            out.push('\n');
        }
        out.push('\n');
        out.push_str(&indent(self.level));
        out.push_str(&before(&next));
    }
}

/// Writes the entries of one body, aligning `=` and trailing comments in each run of
/// single-line attributes.
fn emit(entries: &[Entry], indent: &str, out: &mut String) {
    let mut i = 0;
    while i < entries.len() {
        match &entries[i] {
            Entry::Blank => out.push('\n'),
            Entry::Comment(text) | Entry::Text(text) => {
                out.push_str(indent);
                out.push_str(text);
                out.push('\n');
            }
            Entry::Attribute {
                lead,
                assign,
                comment,
                single_line: false,
            } => {
                out.push_str(indent);
                out.push_str(&format!("{lead} {assign}"));
                if let Some(comment) = comment {
                    out.push(' ');
                    out.push_str(comment);
                }
                out.push('\n');
            }
            Entry::Attribute { .. } => {
                let end = entries[i..]
                    .iter()
                    .position(|e| {
                        !matches!(
                            e,
                            Entry::Attribute {
                                single_line: true,
                                ..
                            }
                        )
                    })
                    .map_or(entries.len(), |at| i + at);
                emit_run(&entries[i..end], indent, out);
                i = end;
                continue;
            }
        }
        i += 1;
    }
}

/// A run of single-line attributes: `=` in one column, then trailing comments of consecutive
/// commented lines in one column.
fn emit_run(run: &[Entry], indent: &str, out: &mut String) {
    let parts: Vec<(&str, &str, Option<&str>)> = run
        .iter()
        .filter_map(|e| match e {
            Entry::Attribute {
                lead,
                assign,
                comment,
                ..
            } => Some((lead.as_str(), assign.as_str(), comment.as_deref())),
            _ => None,
        })
        .collect();
    let key_width = parts
        .iter()
        .map(|(lead, ..)| width(lead))
        .max()
        .unwrap_or(0);
    let texts: Vec<String> = parts
        .iter()
        .map(|(lead, assign, _)| format!("{lead}{} {assign}", " ".repeat(key_width - width(lead))))
        .collect();
    let mut i = 0;
    while i < parts.len() {
        if parts[i].2.is_none() {
            out.push_str(indent);
            out.push_str(&texts[i]);
            out.push('\n');
            i += 1;
            continue;
        }
        let end = parts[i..]
            .iter()
            .position(|p| p.2.is_none())
            .map_or(parts.len(), |at| i + at);
        let column = texts[i..end].iter().map(|t| width(t)).max().unwrap_or(0);
        for j in i..end {
            out.push_str(indent);
            out.push_str(&texts[j]);
            out.push_str(&" ".repeat(column - width(&texts[j]) + 1));
            out.push_str(parts[j].2.unwrap_or_default());
            out.push('\n');
        }
        i = end;
    }
}

#[cfg(test)]
mod tests {
    use super::format;

    /// Formats, and checks that formatting the result changes nothing.
    fn fmt(text: &str) -> String {
        let once = format(text).unwrap_or_else(|e| panic!("{e:?} in\n{text}"));
        let twice = format(&once).unwrap();
        assert_eq!(once, twice, "not idempotent:\n{once}");
        once
    }

    #[test]
    fn formatted_text_is_unchanged() {
        let text = r#"# Quickstart policy.

settings {
  rule_prefix           = "jit"
  allow_priority        = [100, 199]   # temporary allow rules
  deny_priority         = [4000, 4095] # lock-down deny rules
  approvals_required    = 1
  justification_pattern = "^(INC|CHG)-[0-9]+"
}

target "web-1" {
  provider = "snapshot.demo"

  port "ssh" {
    number          = 22
    allowed_sources = ["198.51.100.0/24", "2001:db8::/48"]
    max_duration    = "3h"
  }
}
"#;
        assert_eq!(fmt(text), text);
    }

    #[test]
    fn equals_align_in_runs_that_blank_lines_comments_and_blocks_end() {
        let text = "x {\na=1\nlong_name=2\n\nb=3\n# note\nccc=4\ninner {}\ndd=5\neeeee = [\n1,\n]\nf=6\n}\n";
        let want = "x {\n  a         = 1\n  long_name = 2\n\n  b = 3\n  # note\n  ccc = 4\n  inner {}\n  dd = 5\n  eeeee = [\n    1,\n  ]\n  f = 6\n}\n";
        assert_eq!(fmt(text), want);
    }

    #[test]
    fn trailing_comments_line_up_in_consecutive_lines() {
        let text = "a = 1 # one\nbbb = 22 # two\ncc = 3\nd = 4     // four\n";
        let want = "a   = 1  # one\nbbb = 22 # two\ncc  = 3\nd   = 4 // four\n";
        assert_eq!(fmt(text), want);
    }

    #[test]
    fn every_kind_of_comment_is_kept_in_place() {
        let text = "# head\n\n\n\nsettings {   # after brace\n\n\n  a = 1 # one\n    bbbb=2     // two\n  d /* k */ = /* v */ 4 /* after */ # end\n\n\n   # lonely\n\n}   # closing\n\n\n// tail\n\n\n";
        // `d /* k */` is the lead of its line, so the other keys line up with it, as in Terraform.
        let want = "# head\n\nsettings { # after brace\n  a         = 1         # one\n  bbbb      = 2         // two\n  d /* k */ = /* v */ 4 /* after */ # end\n\n  # lonely\n} # closing\n\n// tail\n";
        assert_eq!(fmt(text), want);
    }

    #[test]
    fn multi_line_block_comments_keep_their_inner_lines() {
        let text = "  /* multi\n     line\n  */\nx {\n      /* inner\n   keeps */\n  y = 1\n}\n";
        let want = "/* multi\n     line\n  */\nx {\n  /* inner\n   keeps */\n  y = 1\n}\n";
        assert_eq!(fmt(text), want);
    }

    #[test]
    fn nested_blocks_are_indented_two_spaces_per_level() {
        let text = "target \"x\" {\nport \"a\" {\n\t\tnumber = 22\n}\n    port  \"b\"   {number=23}\n  empty {\n\n  }\n  oneline { }\n}\n";
        let want = "target \"x\" {\n  port \"a\" {\n    number = 22\n  }\n  port \"b\" { number = 23 }\n  empty {}\n  oneline {}\n}\n";
        assert_eq!(fmt(text), want);
    }

    #[test]
    fn blank_lines_collapse_and_never_open_or_close_a_block() {
        let text = "\n\n\nx {\n\n\n  a = 1\n\n\n\n  b = 2\n\n\n}\n\n\n\ny {}\n\n\n";
        let want = "x {\n  a = 1\n\n  b = 2\n}\n\ny {}\n";
        assert_eq!(fmt(text), want);
    }

    #[test]
    fn heredocs_and_strings_are_kept_byte_for_byte() {
        let text = "x {\n      a = <<EOT\n  keep   this\n\tand this\nEOT\n  bb = <<-EOT\n    indented\n    EOT\n  ccc = \"\\u00e9 ${x} \\\"q\\\"\"\n}\n";
        let want = "x {\n  a = <<EOT\n  keep   this\n\tand this\nEOT\n  bb = <<-EOT\n    indented\n    EOT\n  ccc = \"\\u00e9 ${x} \\\"q\\\"\"\n}\n";
        assert_eq!(fmt(text), want);
    }

    #[test]
    fn arrays_on_one_line_are_normalised_and_others_reindented() {
        let text = "a = [ 1,2 ,3, ]\nbb = [\n\"x\",   # first\n      \"y\",\n\n\n  # between\n\"z\"\n]\nc = [\n  [1,2],\n  [\n3\n  ],\n]\nd = [ /* only */ ]\n";
        let want = "a = [1, 2, 3]\nbb = [\n  \"x\", # first\n  \"y\",\n\n  # between\n  \"z\"\n]\nc = [\n  [1, 2],\n  [\n    3\n  ],\n]\nd = [/* only */]\n";
        assert_eq!(fmt(text), want);
    }

    #[test]
    fn heredocs_inside_arrays_stay_valid() {
        for text in [
            "a = [<<EOT\nx\nEOT\n]\n",
            "a = [<<EOT\nx\nEOT\n, 2]\n",
            "a = [1, <<EOT\nx\nEOT\n]\n",
        ] {
            let out = fmt(text);
            assert_eq!(
                hcl::from_str::<hcl::Body>(&out).unwrap(),
                hcl::from_str::<hcl::Body>(text).unwrap()
            );
        }
    }

    #[test]
    fn crlf_and_empty_files() {
        assert_eq!(fmt("a = 1\r\nbb = 2\r\n"), "a  = 1\nbb = 2\n");
        assert_eq!(fmt(""), "");
        assert_eq!(fmt("\n\n  \n"), "");
        assert_eq!(fmt("# only a comment"), "# only a comment\n");
    }

    #[test]
    fn parse_errors_carry_line_and_column() {
        let err = format("x {\n  a = 1\n  b = \n}\n").unwrap_err();
        assert_eq!((err.line, err.column), (3, 7), "{err:?}");
        assert!(!err.message.is_empty());
        let err = format("x {\n  a = 1\n").unwrap_err();
        assert_eq!((err.line, err.column), (2, 9), "{err:?}");
    }
}
