//! A light lexical pass over one file that finds what the HCL parser reports badly: a quoted
//! string that runs past its line (the parser accepts it, or reports the error lines later), a
//! string never closed (the parser points at the attribute, or at line 1, column 1) and the
//! `{` of a block that is never closed. It knows comments, strings with escapes and `${…}` /
//! `%{…}` templates, and heredocs; everything else is skipped.

/// A string problem, by byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trap {
    /// The string opened at `open` has no closing quote before the end of the file.
    Unterminated { open: usize },
    /// The string opened at `open` reaches the line ending at `newline`.
    NewlineInString { open: usize, newline: usize },
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Scan {
    /// The first string problem, if any.
    pub trap: Option<Trap>,
    /// The innermost `{` still open at the end of the file.
    pub unclosed_brace: Option<usize>,
}

enum Ctx {
    /// Expressions and structure; `interp` when inside `${…}`/`%{…}` of a string, with the depth
    /// of braces opened inside it.
    Code {
        interp: bool,
        depth: usize,
    },
    Str {
        open: usize,
        newline: Option<usize>,
    },
}

pub fn scan(text: &str) -> Scan {
    let b = text.as_bytes();
    let mut stack = vec![Ctx::Code {
        interp: false,
        depth: 0,
    }];
    let mut braces: Vec<usize> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        match stack.last_mut() {
            Some(Ctx::Str { open, newline }) => match c {
                b'\\' => i += 2,
                b'"' => {
                    let (open, newline) = (*open, *newline);
                    if let Some(newline) = newline {
                        return Scan {
                            trap: Some(Trap::NewlineInString { open, newline }),
                            unclosed_brace: None,
                        };
                    }
                    stack.pop();
                    i += 1;
                }
                b'\n' | b'\r' => {
                    if newline.is_none() {
                        *newline = Some(i);
                    }
                    i += 1;
                }
                b'$' | b'%' if next == Some(c) && b.get(i + 2) == Some(&b'{') => i += 3,
                b'$' | b'%' if next == Some(b'{') => {
                    stack.push(Ctx::Code {
                        interp: true,
                        depth: 0,
                    });
                    i += 2;
                }
                _ => i += 1,
            },
            Some(Ctx::Code { interp, depth }) => match c {
                b'#' => i = line_end(b, i),
                b'/' if next == Some(b'/') => i = line_end(b, i),
                b'/' if next == Some(b'*') => {
                    i = find(b, i + 2, b"*/").map_or(b.len(), |j| j + 2);
                }
                b'"' => {
                    stack.push(Ctx::Str {
                        open: i,
                        newline: None,
                    });
                    i += 1;
                }
                b'<' if next == Some(b'<') => i = skip_heredoc(b, i),
                b'{' => {
                    if *interp {
                        *depth += 1;
                    }
                    braces.push(i);
                    i += 1;
                }
                b'}' => {
                    if *interp && *depth == 0 {
                        stack.pop();
                    } else {
                        if *interp {
                            *depth -= 1;
                        }
                        braces.pop();
                    }
                    i += 1;
                }
                _ => i += 1,
            },
            None => break,
        }
    }
    // End of file: an open string is the first problem.
    let open_string = stack.iter().find_map(|ctx| match ctx {
        Ctx::Str { open, .. } => Some(*open),
        Ctx::Code { .. } => None,
    });
    Scan {
        trap: open_string.map(|open| Trap::Unterminated { open }),
        unclosed_brace: braces.last().copied(),
    }
}

fn line_end(b: &[u8], from: usize) -> usize {
    b[from..]
        .iter()
        .position(|&c| c == b'\n')
        .map_or(b.len(), |p| from + p)
}

fn find(b: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    if from > b.len() {
        return None;
    }
    b[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| from + p)
}

/// `<<ID` or `<<-ID` then a line break: skip to after the line holding only `ID`. Anything else
/// after `<<` is left to the parser.
fn skip_heredoc(b: &[u8], at: usize) -> usize {
    let mut i = at + 2;
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    let id_start = i;
    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'-') {
        i += 1;
    }
    let id = &b[id_start..i];
    if id.is_empty() {
        return at + 2;
    }
    if b.get(i) == Some(&b'\r') {
        i += 1;
    }
    if b.get(i) != Some(&b'\n') {
        return at + 2;
    }
    i += 1;
    while i < b.len() {
        let end = line_end(b, i);
        let line = b[i..end].trim_ascii();
        if line == id {
            return end;
        }
        i = end + 1;
    }
    b.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_text_has_no_trap() {
        let text = "a \"b\" {\n  x = \"q\\\"uote\" # \"comment\n  y = \"${f(\"n\")}\" // \"\n  /* \" */\n  z = <<EOT\n\"\nEOT\n}\n";
        assert_eq!(scan(text), Scan::default());
    }

    #[test]
    fn unterminated_string_at_end_of_file() {
        let text = "x = 1\ny = \"abc";
        assert_eq!(scan(text).trap, Some(Trap::Unterminated { open: 10 }));
    }

    #[test]
    fn string_closed_on_a_later_line() {
        let text = "a {\n  y = \"abc\n  x = \"1\"\n}\n";
        assert_eq!(
            scan(text).trap,
            Some(Trap::NewlineInString {
                open: 10,
                newline: 14
            })
        );
    }

    #[test]
    fn newlines_inside_interpolation_are_fine() {
        let text = "x = \"${\n  y\n}\"\n";
        assert_eq!(scan(text).trap, None);
    }

    #[test]
    fn unclosed_brace_is_the_innermost_open_one() {
        let text = "a {\n  b {\n    x = 1\n  }\n";
        assert_eq!(scan(text).unclosed_brace, Some(2));
    }

    #[test]
    fn escaped_template_markers_are_literal() {
        assert_eq!(scan("x = \"$${\"\n").trap, None);
        assert_eq!(scan("x = \"%%{\"\n").trap, None);
    }

    #[test]
    fn odd_bytes_do_not_panic() {
        for text in [
            "\"", "\\", "<<", "<<-", "<<E\n", "/*", "${", "\"${", "\"${}", "}}}", "\"\\",
        ] {
            let _ = scan(text);
        }
    }
}
