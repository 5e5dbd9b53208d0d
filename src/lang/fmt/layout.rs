//! The spacing rules of Terraform's formatter (hclwrite's `format`), over tokens: cut the tokens
//! into lines, each with a *lead*, an *assign* cell (from `=` to the end, when the value ends on
//! that line) and a *comment* cell (a trailing line comment); then indent each line by the
//! brackets left open above it, space the tokens within each cell, and line up the `=` of
//! consecutive assign cells and the comments of consecutive comment cells. Only spaces change:
//! every token and every line break stays where it is, so formatting is idempotent.

use std::ops::Range;

use super::lex::{Kind, Token};

/// One line: token ranges into the token list. `assign` and `comment` may be empty.
struct Line {
    lead: Range<usize>,
    assign: Range<usize>,
    comment: Range<usize>,
}

pub(super) fn layout(tokens: &mut [Token]) {
    let lines = lines(tokens);
    indent(tokens, &lines);
    space(tokens, &lines);
    align(tokens, &lines);
}

fn lines(tokens: &[Token]) -> Vec<Line> {
    let mut lines = Vec::new();
    let mut start = 0;
    for (i, token) in tokens.iter().enumerate() {
        if token.ends_line() {
            lines.push(start..i + 1);
            start = i + 1;
        }
    }
    if start < tokens.len() {
        lines.push(start..tokens.len());
    }
    lines
        .into_iter()
        .map(|range| {
            let mut lead = range.clone();
            let mut comment = range.end..range.end;
            if lead.len() > 1 && tokens[lead.end - 1].kind == Kind::Comment {
                comment = lead.end - 1..lead.end;
                lead.end -= 1;
            }
            let mut assign = lead.end..lead.end;
            if let Some(eq) = (lead.start + 1..lead.end).find(|&i| tokens[i].kind == Kind::Equal) {
                if net_brackets(&tokens[eq..lead.end]) == 0 {
                    assign = eq..lead.end;
                    lead.end = eq;
                }
            }
            Line {
                lead,
                assign,
                comment,
            }
        })
        .collect()
}

/// Opened minus closed brackets, up to a heredoc opener (its body is not counted).
fn net_brackets(tokens: &[Token]) -> i32 {
    let mut net = 0;
    for token in tokens {
        net += token.kind.bracket_change();
        if token.kind == Kind::OHeredoc {
            break;
        }
    }
    net
}

/// Two spaces per level; a level is the brackets a line leaves open, closed by the lines that
/// close them (a stack, so lopsided lines do not push the rest of the file sideways).
fn indent(tokens: &mut [Token], lines: &[Line]) {
    let mut open: Vec<i32> = Vec::new();
    for line in lines {
        if line.lead.is_empty() {
            continue;
        }
        let first = line.lead.start;
        if tokens[first].kind == Kind::Newline {
            tokens[first].spaces = 0;
            continue;
        }
        let net =
            net_brackets(&tokens[line.lead.clone()]) + net_brackets(&tokens[line.assign.clone()]);
        if net > 0 {
            tokens[first].spaces = 2 * open.len();
            open.push(net);
            continue;
        }
        let mut closed = -net;
        while closed > 0 {
            let Some(top) = open.last_mut() else { break };
            if closed >= *top {
                closed -= *top;
                open.pop();
            } else {
                *top -= closed;
                closed = 0;
            }
        }
        tokens[first].spaces = 2 * open.len();
    }
}

/// Spaces between the tokens of each cell.
fn space(tokens: &mut [Token], lines: &[Line]) {
    for line in lines {
        for cell in [line.lead.clone(), line.assign.clone()] {
            if cell.is_empty() {
                continue;
            }
            if cell == line.assign {
                tokens[cell.start].spaces = 1;
            }
            for i in cell.start..cell.end - 1 {
                let before = (i > cell.start).then(|| tokens[i - 1].kind);
                let spaced = space_after(&tokens[i], before, &tokens[i + 1]);
                tokens[i + 1].spaces = usize::from(spaced);
            }
        }
    }
}

/// Whether one space separates `subject` from `after` (hclwrite's `spaceAfterToken`).
fn space_after(subject: &Token, before: Option<Kind>, after: &Token) -> bool {
    use Kind::*;
    let (s, a) = (subject.kind, after.kind);
    match () {
        _ if a == Newline => false,
        _ if s == Ident && a == OParen => false,
        _ if s == Dot || a == Dot => false,
        _ if a == Comma || a == Ellipsis => false,
        _ if s == Comma => true,
        _ if matches!(s, QuotedLit | StringLit | OQuote | OHeredoc)
            || matches!(a, QuotedLit | StringLit | CQuote | CHeredoc) =>
        {
            false
        }
        _ if s == Ident && subject.text == "in" && before == Some(Ident) => true,
        _ if a == OBrack && (s == Ident || s == Number || s.bracket_change() < 0) => false,
        _ if s == Minus => !matches!(
            before,
            None | Some(
                OParen
                    | OBrace
                    | OBrack
                    | Equal
                    | Colon
                    | Comma
                    | Question
                    | Arithmetic
                    | Minus
                    | Comparison
                    | Logical
            )
        ),
        _ if s == OBrace && a == CBrace => false,
        _ if s == OBrace || a == CBrace => true,
        _ if matches!(s, TemplateInterp | TemplateControl) && a == OBrace => true,
        _ if s == CBrace && a == TemplateSeqEnd => true,
        _ if matches!(s, TemplateInterp | TemplateControl) => false,
        _ if s == TemplateSeqEnd && matches!(a, TemplateInterp | TemplateControl) => false,
        _ if a == TemplateSeqEnd => false,
        _ if s.bracket_change() > 0 => false,
        _ if a.bracket_change() < 0 => false,
        _ => true,
    }
}

fn columns(tokens: &[Token], range: Range<usize>) -> usize {
    tokens[range].iter().map(Token::columns).sum()
}

/// Lines up `=` across consecutive lines with an assign cell, then trailing comments across
/// consecutive lines with a comment cell.
fn align(tokens: &mut [Token], lines: &[Line]) {
    for chain in chains(lines, |l| !l.assign.is_empty()) {
        let widest = chain
            .iter()
            .map(|l| columns(tokens, l.lead.clone()))
            .max()
            .unwrap_or(0);
        for line in chain {
            tokens[line.assign.start].spaces = widest - columns(tokens, line.lead.clone()) + 1;
        }
    }
    for chain in chains(lines, |l| !l.comment.is_empty()) {
        let width = |tokens: &[Token], l: &Line| {
            columns(tokens, l.lead.clone()) + columns(tokens, l.assign.clone())
        };
        let widest = chain.iter().map(|l| width(tokens, l)).max().unwrap_or(0);
        for line in chain {
            tokens[line.comment.start].spaces = widest - width(tokens, line) + 1;
        }
    }
}

/// Runs of consecutive lines that have a cell.
fn chains(lines: &[Line], has: impl Fn(&Line) -> bool) -> Vec<&[Line]> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, line) in lines.iter().enumerate() {
        match (has(line), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push(&lines[s..i]);
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push(&lines[s..]);
    }
    out
}
