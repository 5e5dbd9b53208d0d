//! Parsing one file with `hcl::edit`, which keeps byte spans on every block, attribute and
//! value. Where the HCL parser's own error is misleading (strings across lines, never-closed
//! strings and blocks, bare values such as `2001:db8::/48`), the error is replaced by a precise
//! one found with [`scan`](super::scan).

use hcl_edit::parser::parse_body;
use hcl_edit::structure::Body;

use super::codes;
use super::report::Bad;
use super::scan::{scan, Trap};
use super::values;

/// The syntax tree of one file, or the one problem that stops parsing it.
pub fn parse(text: &str) -> Result<Body, Bad> {
    match parse_body(text) {
        Ok(body) => match scan(text).trap {
            // The parser accepts a line break inside a quoted string; HCL does not.
            Some(trap @ Trap::NewlineInString { .. }) => Err(trap_problem(text, trap)),
            _ => Ok(body),
        },
        Err(err) => Err(explain(text, err.location().offset(), err.message())),
    }
}

fn trap_problem(text: &str, trap: Trap) -> Bad {
    match trap {
        Trap::Unterminated { open } => {
            let end = text[open..].find('\n').map_or(text.len(), |i| open + i);
            Bad::new(open..end, codes::UNTERMINATED_STRING, "unterminated string")
                .hint("add the closing `\"`")
        }
        Trap::NewlineInString { open, newline } => Bad::new(
            open..newline,
            codes::NEWLINE_IN_STRING,
            "quoted string is not closed on its line",
        )
        .hint("close it with `\"` before the end of the line; a line break inside a string is written `\\n`"),
    }
}

fn explain(text: &str, offset: usize, message: &str) -> Bad {
    let scanned = scan(text);
    if let Some(trap) = scanned.trap {
        return trap_problem(text, trap);
    }
    let offset = crate::diag::span::floor_char_boundary(text, offset);
    if message.contains("redefined attribute") {
        let key = token_at(text, offset, |c| {
            c.is_alphanumeric() || c == '_' || c == '-'
        });
        return Bad::new(
            offset..offset + key.len(),
            codes::DUPLICATE_ATTRIBUTE,
            format!("attribute `{key}` is set twice"),
        )
        .hint("remove one of them");
    }
    if message.contains("expected newline")
        || message.contains("expected `]`")
        || message.contains("expected `,`")
    {
        let start = token_start(text, offset, bare_char);
        let raw = token_at(text, start, bare_char);
        let looks_like_value = raw.starts_with(|c: char| c.is_ascii_digit())
            && raw.parse::<f64>().is_err()
            && raw.len() > 1;
        if looks_like_value {
            return values::unquoted(raw, start..start + raw.len(), false);
        }
    }
    if text[offset..].trim().is_empty() {
        if let Some(brace) = scanned.unclosed_brace {
            return Bad::new(
                brace..brace + 1,
                codes::UNCLOSED_BLOCK,
                "block is never closed",
            )
            .hint("add the closing `}`");
        }
    }
    let len = text[offset..].chars().next().map_or(0, char::len_utf8);
    Bad::new(
        offset..offset + len,
        codes::SYNTAX,
        format!("syntax error: {message}"),
    )
}

fn bare_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || ":./+_-".contains(c)
}

fn token_start(text: &str, offset: usize, pred: fn(char) -> bool) -> usize {
    text[..offset]
        .char_indices()
        .rev()
        .take_while(|&(_, c)| pred(c))
        .last()
        .map_or(offset, |(i, _)| i)
}

fn token_at(text: &str, offset: usize, pred: impl Fn(char) -> bool) -> &str {
    let rest = &text[offset..];
    let end = rest.find(|c: char| !pred(c)).unwrap_or(rest.len());
    &rest[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> Bad {
        parse(text).expect_err("a parse error")
    }

    fn at(text: &str, bad: &Bad) -> String {
        text[bad.span.clone()].to_string()
    }

    #[test]
    fn valid_file_parses() {
        assert!(parse("target \"a\" {\n  port \"ssh\" {\n    number = 22\n  }\n}\n").is_ok());
    }

    #[test]
    fn unterminated_string_points_at_its_quote() {
        let text = "x = 1\ny = \"abc";
        let bad = err(text);
        assert_eq!(bad.code, codes::UNTERMINATED_STRING);
        assert_eq!(bad.span.start, 10);
    }

    #[test]
    fn newline_in_string_accepted_by_hcl_is_an_error() {
        let text = "a {\n  x = \"abc\n  def\"\n}\n";
        let bad = err(text);
        assert_eq!(bad.code, codes::NEWLINE_IN_STRING);
        assert_eq!(at(text, &bad), "\"abc");
    }

    #[test]
    fn duplicate_attribute_is_named() {
        let text = "a {\n  x = 1\n  x = 2\n}\n";
        let bad = err(text);
        assert_eq!(bad.code, codes::DUPLICATE_ATTRIBUTE);
        assert_eq!(bad.message, "attribute `x` is set twice");
        assert_eq!(bad.span.start, 14);
    }

    #[test]
    fn bare_ipv6_cidr_and_duration() {
        let text = "a {\n  x = 2001:db8::/48\n}\n";
        let bad = err(text);
        assert_eq!(bad.message, "CIDR must be a quoted string");
        assert_eq!(at(text, &bad), "2001:db8::/48");
        let text = "a {\n  x = 3h\n}\n";
        let bad = err(text);
        assert_eq!(bad.message, "`3h` must be a quoted string");
        let text = "a {\n  x = [\"a\", 2001:db8::/48]\n}\n";
        assert_eq!(err(text).message, "CIDR must be a quoted string");
    }

    #[test]
    fn unclosed_block_points_at_its_brace() {
        let text = "a {\n  x = 1\n";
        let bad = err(text);
        assert_eq!(bad.code, codes::UNCLOSED_BLOCK);
        assert_eq!(bad.span, 2..3);
    }

    #[test]
    fn other_errors_keep_the_parser_position() {
        let text = "a {\n  x = = 1\n}\n";
        let bad = err(text);
        assert_eq!(bad.code, codes::SYNTAX);
        assert!(bad.message.starts_with("syntax error: "), "{}", bad.message);
    }
}
