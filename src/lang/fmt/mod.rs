//! `jit fmt`'s core: HCL text → the same configuration laid out byte for byte as Terraform's
//! `terraform fmt` lays it out, every comment kept. Pure: text in, text out.
//!
//! `terraform fmt` changes only spaces, and so does this, with the same rules (`layout`):
//!
//! - each line is indented two spaces per bracket level left open by the lines above it;
//!   blank lines and line breaks stay as they are (runs of blank lines are kept, line endings —
//!   LF or CRLF — and the presence of a final newline too);
//! - tokens within a line are spaced by Terraform's table (`[1, 2]`, `{ a = 1 }`, `f(x)`,
//!   `a.b`, `-1`, `1 + 2`, `{}`), trailing whitespace is dropped;
//! - the `=` of consecutive attribute lines whose value ends on the same line are lined up, and
//!   so are the `#`/`//` comments that end consecutive lines;
//! - strings, heredoc bodies and comments are kept byte for byte.
//!
//! Terraform also rewrites two things beyond spacing, and so does this: bare block labels
//! become quoted (`target web {` → `target "web" {`), and a value that is a single
//! interpolation (`"${var.x}"`) is unwrapped (`var.x`). One deliberate difference: Terraform
//! drops comments written between block labels; `jit fmt` never drops a comment, so it leaves
//! them where they are.
//!
//! The text is parsed with `hcl::edit` first (a file that does not parse is an error and is not
//! touched), which also says where the block labels and attribute values are; the formatting
//! itself works on tokens (`lex`).

mod layout;
mod lex;

use hcl::edit::expr::Expression;
use hcl::edit::structure::{BlockLabel, Body, Structure};
use hcl::edit::Span;

use lex::{Kind, Token};

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
    let mut edits = Vec::new();
    collect_edits(&body, &mut edits);
    let mut tokens = apply_edits(lex::lex(text), edits);
    layout::layout(&mut tokens);
    let mut out = String::with_capacity(text.len());
    for token in &tokens {
        out.extend(std::iter::repeat_n(' ', token.spaces));
        out.push_str(&token.text);
    }
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

/// A rewrite of the tokens inside a byte span of the input.
enum Edit {
    /// A bare block label: quote it.
    QuoteLabel(std::ops::Range<usize>),
    /// An attribute value that may be a lone interpolation: unwrap it if it is one.
    Unwrap(std::ops::Range<usize>),
}

fn collect_edits(body: &Body, edits: &mut Vec<Edit>) {
    for structure in body.iter() {
        match structure {
            Structure::Attribute(attr) => {
                if let (Expression::StringTemplate(_), Some(span)) =
                    (&attr.value, attr.value.span())
                {
                    edits.push(Edit::Unwrap(span));
                }
            }
            Structure::Block(block) => {
                for label in &block.labels {
                    if let (BlockLabel::Ident(_), Some(span)) = (label, label_span(label)) {
                        edits.push(Edit::QuoteLabel(span));
                    }
                }
                collect_edits(&block.body, edits);
            }
        }
    }
}

fn label_span(label: &BlockLabel) -> Option<std::ops::Range<usize>> {
    match label {
        BlockLabel::String(s) => s.span(),
        BlockLabel::Ident(i) => i.span(),
    }
}

/// The tokens with every edit applied. Edits cover disjoint spans.
fn apply_edits(tokens: Vec<Token>, mut edits: Vec<Edit>) -> Vec<Token> {
    let span_of = |e: &Edit| match e {
        Edit::QuoteLabel(s) | Edit::Unwrap(s) => s.start,
    };
    edits.sort_by_key(span_of);
    let mut out = Vec::with_capacity(tokens.len());
    let mut tokens = tokens.into_iter().peekable();
    for edit in edits {
        let span = match &edit {
            Edit::QuoteLabel(s) | Edit::Unwrap(s) => s.clone(),
        };
        while let Some(t) = tokens.next_if(|t| t.span.start < span.start) {
            out.push(t);
        }
        let mut inside = Vec::new();
        while let Some(t) = tokens.next_if(|t| t.span.end <= span.end) {
            inside.push(t);
        }
        match edit {
            Edit::QuoteLabel(_) => out.extend(quote_label(inside)),
            Edit::Unwrap(_) => out.extend(unwrap_interpolation(inside)),
        }
    }
    out.extend(tokens);
    out
}

/// `web` → `"web"` (an identifier needs no escaping).
fn quote_label(inside: Vec<Token>) -> Vec<Token> {
    match inside.as_slice() {
        [ident] if ident.kind == Kind::Ident => {
            let mut open = Token::made(Kind::OQuote, "\"");
            open.spaces = ident.spaces;
            vec![
                open,
                Token::made(Kind::QuotedLit, ident.text.clone()),
                Token::made(Kind::CQuote, "\""),
            ]
        }
        _ => inside,
    }
}

/// `"${expr}"` → `expr` when the template is exactly one interpolation, as Terraform's fmt
/// does; a multi-line `expr` is wrapped in parentheses so it still parses.
fn unwrap_interpolation(tokens: Vec<Token>) -> Vec<Token> {
    let n = tokens.len();
    let shaped = n >= 5
        && tokens[0].kind == Kind::OQuote
        && tokens[1].kind == Kind::TemplateInterp
        && tokens[n - 2].kind == Kind::TemplateSeqEnd
        && tokens[n - 1].kind == Kind::CQuote;
    if !shaped {
        return tokens;
    }
    let inner = &tokens[2..n - 2];
    let mut quotes = 0;
    for token in inner {
        match token.kind {
            Kind::OQuote => quotes += 1,
            Kind::CQuote => quotes -= 1,
            _ if quotes > 0 => {}
            Kind::TemplateInterp | Kind::TemplateSeqEnd | Kind::QuotedLit => return tokens,
            _ => {}
        }
    }
    let spaces = tokens[0].spaces;
    let first = inner.iter().position(|t| t.kind != Kind::Newline);
    let last = inner.iter().rposition(|t| t.kind != Kind::Newline);
    let (Some(first), Some(last)) = (first, last) else {
        return tokens;
    };
    let mut trimmed: Vec<Token> = inner[first..=last].to_vec();
    let multi_line = trimmed.iter().any(|t| t.kind == Kind::Newline);
    let parenthesised = trimmed.first().is_some_and(|t| t.kind == Kind::OParen)
        && trimmed.last().is_some_and(|t| t.kind == Kind::CParen);
    if multi_line && !parenthesised {
        trimmed.insert(0, Token::made(Kind::OParen, "("));
        trimmed.push(Token::made(Kind::CParen, ")"));
    }
    trimmed[0].spaces = spaces;
    trimmed
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
        let want = "# head\n\n\n\nsettings { # after brace\n\n\n  a         = 1                     # one\n  bbbb      = 2                     // two\n  d /* k */ = /* v */ 4 /* after */ # end\n\n\n  # lonely\n\n} # closing\n\n\n// tail\n\n\n";
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
        let want = "target \"x\" {\n  port \"a\" {\n    number = 22\n  }\n  port \"b\" { number = 23 }\n  empty {\n\n  }\n  oneline {}\n}\n";
        assert_eq!(fmt(text), want);
    }

    #[test]
    fn blank_lines_are_kept_as_written() {
        let text = "\n\n\nx {\n\n\n  a = 1\n\n\n\n  b = 2\n\n\n}\n\n\n\ny {}\n\n\n";
        let want = "\n\n\nx {\n\n\n  a = 1\n\n\n\n  b = 2\n\n\n}\n\n\n\ny {}\n\n\n";
        assert_eq!(fmt(text), want);
    }

    #[test]
    fn heredocs_and_strings_are_kept_byte_for_byte() {
        let text = "x {\n      a = <<EOT\n  keep   this\n\tand this\nEOT\n  bb = <<-EOT\n    indented\n    EOT\n  ccc = \"\\u00e9 ${x} \\\"q\\\"\"\n}\n";
        let want = "x {\n  a   = <<EOT\n  keep   this\n\tand this\nEOT\n  bb  = <<-EOT\n    indented\n    EOT\n  ccc = \"\\u00e9 ${x} \\\"q\\\"\"\n}\n";
        assert_eq!(fmt(text), want);
    }

    #[test]
    fn arrays_are_spaced_and_their_lines_reindented() {
        let text = "a = [ 1,2 ,3, ]\nbb = [\n\"x\",   # first\n      \"y\",\n\n\n  # between\n\"z\"\n]\nc = [\n  [1,2],\n  [\n3\n  ],\n]\nd = [ /* only */ ]\n";
        let want = "a = [1, 2, 3, ]\nbb = [\n  \"x\", # first\n  \"y\",\n\n\n  # between\n  \"z\"\n]\nc = [\n  [1, 2],\n  [\n    3\n  ],\n]\nd = [/* only */]\n";
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
    fn line_endings_and_empty_files_are_kept() {
        assert_eq!(fmt("a = 1\r\nbb = 2\r\n"), "a  = 1\r\nbb = 2\r\n");
        assert_eq!(fmt("a=1  "), "a = 1");
        assert_eq!(fmt(""), "");
        assert_eq!(fmt("\n\n  \n"), "\n\n\n");
        assert_eq!(fmt("# only a comment"), "# only a comment");
    }

    #[test]
    fn terraform_rewrites_bare_labels_and_lone_interpolations() {
        assert_eq!(fmt("target  web {\n}\n"), "target \"web\" {\n}\n");
        assert_eq!(fmt("x = \"${a.b}\"\n"), "x = a.b\n");
        assert_eq!(fmt("x = \"${\na ? 1 : 2\n}\"\n"), "x = a ? 1 : 2\n");
        assert_eq!(fmt("x = \"${a ?\n1 : 2}\"\n"), "x = (a ?\n1 : 2)\n");
        // Not lone interpolations: kept as written.
        assert_eq!(fmt("x = \"a${b}\"\n"), "x = \"a${b}\"\n");
        assert_eq!(fmt("x = \"${a}${b}\"\n"), "x = \"${a}${b}\"\n");
        // A comment between labels is kept, not dropped as Terraform would.
        assert_eq!(fmt("a /* c */ b \"c\" {}\n"), "a /* c */ \"b\" \"c\" {}\n");
    }

    #[test]
    fn expressions_are_spaced_as_terraform_spaces_them() {
        let text =
            "a = {x=1,y=[1,2]}\nb = f( 1 , -2 )\nc = 1+2*-3\nd = x.y[0]\ne = [for v in [1]: v]\n";
        let want = "a = { x = 1, y = [1, 2] }\nb = f(1, -2)\nc = 1 + 2 * -3\nd = x.y[0]\ne = [for v in [1] : v]\n";
        assert_eq!(fmt(text), want);
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
