//! Decoding `request` blocks: target, ports by name or number, source CIDR, people,
//! justification, start time and duration. Whether the request fits its target's policy is
//! `validate`'s question.

use std::collections::HashSet;

use hcl_edit::expr::Expression;
use hcl_edit::structure::Block;

use super::decl::{PortRef, RequestDecl, Spanned};
use super::decode::{fields, get, header, labels, list, name, nonempty, require, span, string, Cx};
use super::decode_approval::person;
use super::report::Bad;
use super::{codes, values};
use crate::approval::names;

const KEYS: [&str; 8] = [
    "target",
    "ports",
    "source",
    "requester",
    "approvers",
    "justification",
    "start",
    "duration",
];

pub fn request(cx: &mut Cx, block: &Block) -> Option<RequestDecl> {
    let labels = labels(cx, block, 1, "request \"INC-4211-alice\" { … }")?;
    let name = name(cx, &labels[0], "request")?;
    let what = format!("request `{}`", name.value);
    let before = cx.errors();
    let (found, _) = fields(cx, block, &what, &KEYS, None);
    require(
        cx,
        block,
        &what,
        &found,
        &[
            "target",
            "ports",
            "source",
            "requester",
            "justification",
            "start",
            "duration",
        ],
    );
    let target = get(&found, "target").and_then(|a| nonempty(cx, a));

    let mut ports: Vec<Spanned<PortRef>> = Vec::new();
    if let Some(attr) = get(&found, "ports") {
        let items = list(cx, attr).unwrap_or_default();
        if items.is_empty() && matches!(attr.value, Expression::Array(_)) {
            cx.bad(
                Bad::new(span(attr), codes::INVALID_VALUE, "`ports` is empty")
                    .hint("name at least one port of the target, by name or number"),
            );
        }
        for item in items {
            let at = cx.at(values::span_of(item, &span(attr)));
            let port = match item {
                Expression::Number(_) | Expression::UnaryOp(_) => cx
                    .ok(values::integer(item, "ports", &at.span))
                    .and_then(|n| {
                        super::decode_target::port_number(n)
                            .map_err(|bad| cx.bad(bad.span_to(at.span.clone())))
                            .ok()
                    })
                    .map(PortRef::Number),
                _ => cx
                    .ok(values::nonempty_string(item, cx.text, "ports", &at.span))
                    .map(|s| PortRef::Name(s.to_string())),
            };
            let Some(port) = port else { continue };
            if ports.iter().any(|p| p.value == port) {
                cx.bad(Bad::new(
                    at.span,
                    codes::DUPLICATE_ENTRY,
                    format!("port `{port}` is listed twice"),
                ));
                continue;
            }
            ports.push(Spanned { value: port, at });
        }
    }

    let source_any = get(&found, "source")
        .is_some_and(|attr| matches!(&attr.value, Expression::String(s) if s.as_str() == "*"));
    let source = get(&found, "source").and_then(|attr| {
        let s = cx.ok(values::string(
            &attr.value,
            cx.text,
            "source",
            true,
            &span(attr),
        ))?;
        if s == "*" {
            // Any source: the whole family of the target's destination, decided in validate.
            return Some(Spanned {
                value: values::any_source()[0],
                at: cx.at(span(attr)),
            });
        }
        match values::cidr(s) {
            Ok(net) => Some(Spanned {
                value: net,
                at: cx.at(span(attr)),
            }),
            Err(bad) => {
                cx.bad(bad.span_to(span(attr)));
                None
            }
        }
    });

    let requester = get(&found, "requester")
        .and_then(|a| nonempty(cx, a))
        .and_then(|r| person(cx, r));

    let mut approvers: Vec<Spanned<String>> = Vec::new();
    let approvers_at = get(&found, "approvers").map(|a| cx.at(span(a)));
    if let Some(attr) = get(&found, "approvers") {
        let mut seen = HashSet::new();
        for item in list(cx, attr).unwrap_or_default() {
            let at = cx.at(values::span_of(item, &span(attr)));
            let Some(a) = cx.ok(values::nonempty_string(
                item,
                cx.text,
                "approvers",
                &at.span,
            )) else {
                continue;
            };
            let Some(a) = person(
                cx,
                Spanned {
                    value: a.to_string(),
                    at,
                },
            ) else {
                continue;
            };
            // One person twice, however the name is spelled (case, width, confusables).
            if !seen.insert(names::key(&a.value)) {
                cx.bad(Bad::new(
                    a.at.span,
                    codes::DUPLICATE_ENTRY,
                    format!("approver `{}` is listed twice", a.value),
                ));
                continue;
            }
            approvers.push(a);
        }
    }

    let justification = get(&found, "justification").and_then(|a| nonempty(cx, a));

    let start_at = get(&found, "start").map(|a| cx.at(span(a)));
    let start = get(&found, "start").and_then(|attr| {
        let s = string(cx, attr)?;
        values::time(&s.value)
            .map_err(|bad| cx.bad(bad.span_to(s.at.span.clone())))
            .ok()
    });

    let duration = get(&found, "duration").and_then(|attr| {
        let s = string(cx, attr)?;
        match values::duration(&s.value) {
            Err(message) => {
                cx.bad(
                    Bad::new(s.at.span, codes::INVALID_DURATION, message)
                        .hint(values::duration_hint(&s.value)),
                );
                None
            }
            Ok(d) if d <= jiff::SignedDuration::ZERO => {
                cx.bad(Bad::new(
                    s.at.span,
                    codes::DURATION_NOT_ALLOWED,
                    format!("duration `{}` is not positive", s.value),
                ));
                None
            }
            Ok(d) => Some(Spanned { value: d, at: s.at }),
        }
    });

    Some(RequestDecl {
        at: cx.at(header(block)),
        name,
        target,
        ports,
        source,
        source_any,
        requester,
        approvers,
        approvers_at,
        justification,
        start,
        start_at,
        duration,
        ok: cx.errors() == before,
    })
}
