//! The tokens `jit fmt` works on: HCL native syntax cut as Terraform's formatter (hclwrite) cuts
//! it, each token with its byte span and the spaces to print before it. Whitespace is not a
//! token (formatting regenerates it); newlines, comments and every other byte are, so printing
//! the tokens with their original spacing gives back the text without its trailing whitespace.
//!
//! As in hclsyntax, a `#` or `//` comment includes the newline that ends it (it *is* that line's
//! newline); a `/* */` comment does not. A heredoc's opener includes its newline and its body
//! lines are literal tokens, so a heredoc is part of the line of the attribute it belongs to.

use std::ops::Range;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Newline,
    Comment,
    Ident,
    Number,
    OQuote,
    QuotedLit,
    CQuote,
    TemplateInterp,
    TemplateControl,
    TemplateSeqEnd,
    OHeredoc,
    StringLit,
    CHeredoc,
    OBrace,
    CBrace,
    OBrack,
    CBrack,
    OParen,
    CParen,
    Comma,
    Dot,
    Ellipsis,
    Equal,
    Minus,
    /// Binary operators after which a minus is a negation: `+ * / %`.
    Arithmetic,
    /// `== != < <= > >=`.
    Comparison,
    /// `&& || !`.
    Logical,
    Question,
    Colon,
    /// `=>` and anything else.
    Other,
}

impl Kind {
    /// +1 for an opening bracket, -1 for a closing one, as hclwrite counts them.
    pub(super) fn bracket_change(self) -> i32 {
        match self {
            Kind::OBrace
            | Kind::OBrack
            | Kind::OParen
            | Kind::TemplateInterp
            | Kind::TemplateControl => 1,
            Kind::CBrace | Kind::CBrack | Kind::CParen | Kind::TemplateSeqEnd => -1,
            _ => 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Token {
    pub kind: Kind,
    pub text: String,
    /// Where the token was in the input; a token made by formatting has an empty span.
    pub span: Range<usize>,
    pub spaces: usize,
}

impl Token {
    pub(super) fn made(kind: Kind, text: impl Into<String>) -> Token {
        Token {
            kind,
            text: text.into(),
            span: 0..0,
            spaces: 0,
        }
    }

    /// A newline token, or a line comment (which ends its line).
    pub(super) fn ends_line(&self) -> bool {
        self.kind == Kind::Newline || (self.kind == Kind::Comment && self.text.ends_with('\n'))
    }

    /// Width in characters, spaces before included.
    pub(super) fn columns(&self) -> usize {
        self.spaces + self.text.chars().count()
    }
}

/// Where the lexer is: plain expressions (at the top, or inside `${ }` with its brace depth),
/// a quoted template, or a heredoc body.
enum Ctx {
    Interp { depth: usize },
    Quoted,
    Heredoc { marker: String, line_start: bool },
}

/// Cuts `src` (which has already parsed as HCL) into tokens.
pub(super) fn lex(src: &str) -> Vec<Token> {
    let mut lexer = Lexer {
        src,
        at: 0,
        last_end: 0,
        out: Vec::new(),
        stack: Vec::new(),
    };
    lexer.run();
    lexer.out
}

struct Lexer<'s> {
    src: &'s str,
    at: usize,
    last_end: usize,
    out: Vec<Token>,
    stack: Vec<Ctx>,
}

impl<'s> Lexer<'s> {
    fn rest(&self) -> &'s str {
        &self.src[self.at..]
    }

    fn push(&mut self, kind: Kind, len: usize) {
        let start = self.at;
        let end = start + len;
        let gap = &self.src[self.last_end..start];
        self.out.push(Token {
            kind,
            text: self.src[start..end].to_string(),
            span: start..end,
            spaces: gap.chars().filter(|c| *c == ' ' || *c == '\t').count(),
        });
        self.at = end;
        self.last_end = end;
    }

    fn run(&mut self) {
        while self.at < self.src.len() {
            match self.stack.last() {
                Some(Ctx::Quoted) => self.quoted(),
                Some(Ctx::Heredoc { .. }) => self.heredoc(),
                _ => self.expression(),
            }
        }
    }

    /// One token of a plain expression (or skipped whitespace).
    fn expression(&mut self) {
        let rest = self.rest();
        let c = rest.chars().next().expect("not at the end");
        if c == ' ' || c == '\t' || (c == '\r' && !rest.starts_with("\r\n")) {
            self.at += c.len_utf8();
            self.last_end = self.at;
            return;
        }
        if rest.starts_with("\r\n") {
            return self.push(Kind::Newline, 2);
        }
        if c == '\n' {
            return self.push(Kind::Newline, 1);
        }
        if c == '#' || rest.starts_with("//") {
            let len = rest.find('\n').map_or(rest.len(), |at| at + 1);
            return self.push(Kind::Comment, len);
        }
        if rest.starts_with("/*") {
            let len = rest[2..].find("*/").map_or(rest.len(), |at| at + 4);
            return self.push(Kind::Comment, len);
        }
        if let Some(len) = heredoc_opener(rest) {
            let marker = rest[..len]
                .trim_start_matches('<')
                .trim_start_matches('-')
                .trim_end()
                .to_string();
            self.push(Kind::OHeredoc, len);
            self.stack.push(Ctx::Heredoc {
                marker,
                line_start: true,
            });
            return;
        }
        if c == '"' {
            self.push(Kind::OQuote, 1);
            self.stack.push(Ctx::Quoted);
            return;
        }
        if c.is_alphabetic() || c == '_' {
            let len = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
                .unwrap_or(rest.len());
            return self.push(Kind::Ident, len);
        }
        if c.is_ascii_digit() {
            return self.push(Kind::Number, number_len(rest));
        }
        if let Some(Ctx::Interp { depth }) = self.stack.last_mut() {
            match c {
                '{' => *depth += 1,
                '}' if *depth == 0 => {
                    self.stack.pop();
                    return self.push(Kind::TemplateSeqEnd, 1);
                }
                '~' if *depth == 0 && rest.starts_with("~}") => {
                    self.stack.pop();
                    return self.push(Kind::TemplateSeqEnd, 2);
                }
                '}' => *depth -= 1,
                _ => {}
            }
        }
        let (kind, len) = match rest.as_bytes() {
            [b'.', b'.', b'.', ..] => (Kind::Ellipsis, 3),
            [b'=', b'=', ..] | [b'!', b'=', ..] | [b'<', b'=', ..] | [b'>', b'=', ..] => {
                (Kind::Comparison, 2)
            }
            [b'&', b'&', ..] | [b'|', b'|', ..] => (Kind::Logical, 2),
            [b'=', b'>', ..] => (Kind::Other, 2),
            [b'{', ..] => (Kind::OBrace, 1),
            [b'}', ..] => (Kind::CBrace, 1),
            [b'[', ..] => (Kind::OBrack, 1),
            [b']', ..] => (Kind::CBrack, 1),
            [b'(', ..] => (Kind::OParen, 1),
            [b')', ..] => (Kind::CParen, 1),
            [b',', ..] => (Kind::Comma, 1),
            [b'.', ..] => (Kind::Dot, 1),
            [b'=', ..] => (Kind::Equal, 1),
            [b'-', ..] => (Kind::Minus, 1),
            [b'+' | b'*' | b'/' | b'%', ..] => (Kind::Arithmetic, 1),
            [b'<' | b'>', ..] => (Kind::Comparison, 1),
            [b'!', ..] => (Kind::Logical, 1),
            [b'?', ..] => (Kind::Question, 1),
            [b':', ..] => (Kind::Colon, 1),
            _ => (Kind::Other, c.len_utf8()),
        };
        self.push(kind, len)
    }

    /// Inside `"…"`: literal text up to the closing quote or a template sequence.
    fn quoted(&mut self) {
        let rest = self.rest();
        if rest.starts_with('"') {
            self.stack.pop();
            return self.push(Kind::CQuote, 1);
        }
        if let Some((kind, len)) = template_start(rest) {
            self.push(kind, len);
            self.stack.push(Ctx::Interp { depth: 0 });
            return;
        }
        let len = literal_len(rest, true);
        if len == 0 {
            // A newline inside quotes does not parse; keep going byte by byte.
            let len = rest.chars().next().map_or(1, char::len_utf8);
            return self.push(Kind::QuotedLit, len);
        }
        self.push(Kind::QuotedLit, len)
    }

    /// Inside a heredoc: whole lines of literal text, template sequences, the closing marker.
    fn heredoc(&mut self) {
        let rest = self.rest();
        let Some(Ctx::Heredoc { marker, line_start }) = self.stack.last_mut() else {
            return;
        };
        if *line_start {
            let line = rest.split('\n').next().unwrap_or("");
            let trimmed = line.trim_end_matches('\r');
            if trimmed.trim_start_matches([' ', '\t']) == marker.as_str() {
                let len = trimmed.len();
                self.stack.pop();
                return self.push(Kind::CHeredoc, len);
            }
            *line_start = false;
        }
        if let Some((kind, len)) = template_start(rest) {
            self.push(kind, len);
            self.stack.push(Ctx::Interp { depth: 0 });
            return;
        }
        let text = literal_len(rest, false);
        let ends_line = rest[text..].starts_with('\n');
        if let Some(Ctx::Heredoc { line_start, .. }) = self.stack.last_mut() {
            *line_start = ends_line;
        }
        self.push(Kind::StringLit, (text + usize::from(ends_line)).max(1))
    }
}

/// `<<EOT\n` or `<<-EOT\n`: the opener's length, newline included.
fn heredoc_opener(rest: &str) -> Option<usize> {
    let body = rest.strip_prefix("<<")?;
    let body = body.strip_prefix('-').unwrap_or(body);
    let ident = body
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
        .unwrap_or(body.len());
    if ident == 0 || !body[..1].chars().all(|c| c.is_alphabetic() || c == '_') {
        return None;
    }
    let after = &body[ident..];
    let newline = if after.starts_with("\r\n") {
        2
    } else if after.starts_with('\n') {
        1
    } else {
        return None;
    };
    Some(rest.len() - body.len() + ident + newline)
}

/// `${`, `${~`, `%{`, `%{~` at the start of `rest`, unless escaped as `$${` / `%%{`.
fn template_start(rest: &str) -> Option<(Kind, usize)> {
    let kind = if rest.starts_with("${") {
        Kind::TemplateInterp
    } else if rest.starts_with("%{") {
        Kind::TemplateControl
    } else {
        return None;
    };
    Some((kind, if rest[2..].starts_with('~') { 3 } else { 2 }))
}

/// Length of literal template text before a template sequence, a newline, the end, or (in a
/// quoted template) the closing quote. `$${` and `%%{` are literal; so are backslash escapes in
/// a quoted template (a heredoc has none).
fn literal_len(rest: &str, quoted: bool) -> usize {
    let mut at = 0;
    while at < rest.len() {
        let here = &rest[at..];
        if here.starts_with('\n')
            || (quoted && here.starts_with('"'))
            || template_start(here).is_some()
        {
            break;
        }
        let skip = if here.starts_with("$${") || here.starts_with("%%{") {
            3
        } else if quoted && here.starts_with('\\') && here.len() > 1 {
            1 + here[1..].chars().next().map_or(0, char::len_utf8)
        } else {
            here.chars().next().map_or(1, char::len_utf8)
        };
        at += skip;
    }
    at.min(rest.len())
}

/// `12`, `1.5`, `1e10`, `2.5E-3`.
fn number_len(rest: &str) -> usize {
    let bytes = rest.as_bytes();
    let digits = |from: usize| {
        bytes[from..]
            .iter()
            .position(|b| !b.is_ascii_digit())
            .map_or(bytes.len(), |n| from + n)
    };
    let mut end = digits(0);
    if bytes.get(end) == Some(&b'.') && bytes.get(end + 1).is_some_and(u8::is_ascii_digit) {
        end = digits(end + 1);
    }
    if matches!(bytes.get(end), Some(b'e' | b'E')) {
        let sign = usize::from(matches!(bytes.get(end + 1), Some(b'+' | b'-')));
        if bytes.get(end + 1 + sign).is_some_and(u8::is_ascii_digit) {
            end = digits(end + 1 + sign);
        }
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<(Kind, String)> {
        lex(src).into_iter().map(|t| (t.kind, t.text)).collect()
    }

    #[test]
    fn tokens_keep_every_byte_but_whitespace() {
        let src = "a = [1, \"x${b.c}y\"] # c\n  h = <<-EOT\n    ${x} t\n  EOT\n";
        let joined: String = lex(src).iter().map(|t| t.text.as_str()).collect();
        let squeezed: String = src.chars().filter(|c| *c != ' ').collect();
        assert_eq!(joined.replace(' ', ""), squeezed);
    }

    #[test]
    fn line_comments_end_their_line_and_block_comments_do_not() {
        let toks = kinds("a = 1 # one\nb /* two */\n");
        assert_eq!(toks[3], (Kind::Comment, "# one\n".to_string()));
        assert_eq!(toks[5], (Kind::Comment, "/* two */".to_string()));
        assert_eq!(toks[6].0, Kind::Newline);
    }

    #[test]
    fn templates_and_heredocs() {
        use Kind::*;
        let toks: Vec<Kind> = kinds("\"a${x}b\"").into_iter().map(|t| t.0).collect();
        assert_eq!(
            toks,
            [
                OQuote,
                QuotedLit,
                TemplateInterp,
                Ident,
                TemplateSeqEnd,
                QuotedLit,
                CQuote
            ]
        );
        let toks = kinds("x = <<EOT\n  keep\nEOT\ny = 1\n");
        assert_eq!(toks[2], (OHeredoc, "<<EOT\n".to_string()));
        assert_eq!(toks[3], (StringLit, "  keep\n".to_string()));
        assert_eq!(toks[4], (CHeredoc, "EOT".to_string()));
        assert_eq!(toks[5].0, Newline);
        let toks = kinds("\"$${not} \\\" ok\"");
        assert_eq!(toks.len(), 3, "{toks:?}");
    }

    #[test]
    fn numbers_and_operators() {
        let toks: Vec<String> = kinds("1.5e3 ... == -x.0")
            .into_iter()
            .map(|t| t.1)
            .collect();
        assert_eq!(toks, ["1.5e3", "...", "==", "-", "x", ".", "0"]);
    }
}
