//! Decoding `approval "<request id>" { by, signature }` blocks, and the check every person's
//! name gets wherever it is written (requester, approvers, `by`). Whether an approval counts
//! is `validate`'s question (with `approval::verify`).

use hcl_edit::expr::Expression;
use hcl_edit::structure::Block;

use super::decl::{ApprovalDecl, Spanned};
use super::decode::{fields, get, header, labels, name, nonempty, require, span, Cx};
use super::report::Bad;
use super::{codes, values};
use crate::approval::names;

pub fn approval(cx: &mut Cx, block: &Block) -> Option<ApprovalDecl> {
    let labels = labels(cx, block, 1, "approval \"INC-4211-alice\" { … }")?;
    let request = name(cx, &labels[0], "request")?;
    let what = format!("approval of `{}`", request.value);
    let before = cx.errors();
    let (found, _) = fields(cx, block, &what, &["by", "signature"], None);
    require(cx, block, &what, &found, &["by", "signature"]);
    let by = get(&found, "by")
        .and_then(|a| nonempty(cx, a))
        .and_then(|by| person(cx, by));
    let signature = get(&found, "signature").and_then(|attr| {
        let at = cx.at(span(attr));
        let text = match &attr.value {
            Expression::HeredocTemplate(h) => literal(&h.template),
            Expression::String(s) => Some(s.as_str().to_string()),
            Expression::StringTemplate(t) => literal(t),
            other => {
                cx.bad(Bad::new(
                    at.span.clone(),
                    codes::WRONG_TYPE,
                    format!(
                        "`signature` must be a heredoc, found {}",
                        values::kind(other)
                    ),
                ));
                return None;
            }
        };
        match text {
            Some(value) => Some(Spanned { value, at }),
            None => {
                cx.bad(
                    Bad::new(
                        at.span,
                        codes::UNSUPPORTED_EXPRESSION,
                        "`signature` cannot use template interpolation",
                    )
                    .hint("paste the signature as `ssh-keygen` printed it"),
                );
                None
            }
        }
    });
    Some(ApprovalDecl {
        at: cx.at(header(block)),
        request,
        by,
        signature,
        ok: cx.errors() == before,
    })
}

/// The text of a template made only of literal parts.
fn literal(template: &hcl_edit::template::Template) -> Option<String> {
    let mut out = String::new();
    for element in template.iter() {
        out.push_str(element.as_literal()?.as_str());
    }
    Some(out)
}

/// A person's name, or an error at it when `approval::names` refuses it.
pub fn person(cx: &mut Cx, name: Spanned<String>) -> Option<Spanned<String>> {
    match names::check(&name.value) {
        Ok(()) => Some(name),
        Err(why) => {
            cx.bad(
                Bad::new(
                    name.at.span.clone(),
                    codes::INVALID_PERSON,
                    format!("name `{}` {why}", name.value.escape_debug()),
                )
                .hint("write names in one script, without invisible, control or bidi characters"),
            );
            None
        }
    }
}
