//! Decoding one file's syntax tree into declarations: block types and labels, known and
//! required attributes, value types, and the rules that need only the block itself (ranges,
//! formats). Rules across blocks and files are `validate`'s.

use std::ops::Range;

use hcl_edit::expr::Expression;
use hcl_edit::structure::{Attribute, Block, Body};
use hcl_edit::Span;
use regex::Regex;

use super::decl::{Decls, ProviderDecl, SettingsDecl, Spanned};
use super::report::{At, Bad, Report};
use super::{codes, values};
use crate::diag::suggest::did_you_mean;
use crate::model::{AzureMode, AzureRead, PriorityBand, ProviderConfig, Settings};

pub const BLOCK_TYPES: [&str; 6] = [
    "settings", "provider", "target", "request", "approval", "accept",
];
const PROVIDER_KINDS: [&str; 3] = ["azure", "nftables", "snapshot"];

/// One file being decoded: where problems go and the text they point into.
pub struct Cx<'r, 'a> {
    pub file: usize,
    pub text: &'a str,
    pub report: &'r mut Report<'a>,
}

impl Cx<'_, '_> {
    pub fn at(&self, span: Range<usize>) -> At {
        At {
            file: self.file,
            span,
        }
    }

    pub fn bad(&mut self, bad: Bad) {
        self.report.push(self.file, bad);
    }

    /// Keeps the value, or reports the problem and gives `None`.
    pub fn ok<T>(&mut self, result: Result<T, Bad>) -> Option<T> {
        result.map_err(|bad| self.bad(bad)).ok()
    }

    pub fn errors(&self) -> usize {
        self.report.error_count()
    }
}

/// Decode every top-level block of one file into `decls`.
pub fn decode_file(cx: &mut Cx, body: &Body, decls: &mut Decls) {
    for structure in body.iter() {
        if let Some(attr) = structure.as_attribute() {
            let span = attr.key.span().unwrap_or(0..0);
            cx.bad(
                Bad::new(
                    span,
                    codes::UNEXPECTED_STRUCTURE,
                    format!("unexpected attribute `{}` at the top level", attr.key.as_str()),
                )
                .hint("the top level holds only `settings`, `provider`, `target`, `request`, `approval` and `accept` blocks"),
            );
            continue;
        }
        let Some(block) = structure.as_block() else {
            continue;
        };
        match block.ident.as_str() {
            "settings" => {
                if let Some(d) = settings(cx, block) {
                    decls.settings.push(d);
                }
            }
            "provider" => {
                if let Some(d) = provider(cx, block) {
                    decls.providers.push(d);
                }
            }
            "target" => {
                if let Some(d) = super::decode_target::target(cx, block) {
                    decls.targets.push(d);
                }
            }
            "request" => {
                if let Some(d) = super::decode_request::request(cx, block) {
                    decls.requests.push(d);
                }
            }
            "approval" => {
                if let Some(d) = super::decode_approval::approval(cx, block) {
                    decls.approvals.push(d);
                }
            }
            "accept" => {
                if let Some(d) = super::accept::decode(cx, block) {
                    decls.accepts.push(d);
                }
            }
            other => {
                let hint = did_you_mean(other, BLOCK_TYPES).unwrap_or_else(|| {
                    "block types are `settings`, `provider`, `target`, `request`, `approval` and `accept`"
                        .to_string()
                });
                cx.bad(
                    Bad::new(
                        block.ident.span().unwrap_or(0..0),
                        codes::UNKNOWN_BLOCK,
                        format!("unknown block type `{other}`"),
                    )
                    .hint(hint),
                );
            }
        }
    }
}

const READ_MODES: [&str; 3] = ["auto", "resource_graph", "direct"];

/// An azure provider's `read` attribute, as written.
pub fn read_mode(text: &str) -> Option<AzureRead> {
    match text {
        "auto" => Some(AzureRead::Auto),
        "resource_graph" => Some(AzureRead::ResourceGraph),
        "direct" => Some(AzureRead::Direct),
        _ => None,
    }
}

/// The header of a block: its type and labels.
pub fn header(block: &Block) -> Range<usize> {
    let start = block.ident.span().map_or(0, |s| s.start);
    let end = block
        .labels
        .last()
        .and_then(|l| l.span())
        .or_else(|| block.ident.span())
        .map_or(start, |s| s.end);
    start..end
}

/// The labels of a block, which must number `expected` (`usage` shows the right form).
pub fn labels<'b>(
    cx: &mut Cx,
    block: &'b Block,
    expected: usize,
    usage: &str,
) -> Option<Vec<Spanned<&'b str>>> {
    if block.labels.len() != expected {
        let kind = block.ident.as_str();
        let what = match expected {
            1 => "one label".to_string(),
            n => format!("{n} labels"),
        };
        cx.bad(
            Bad::new(
                header(block),
                codes::BLOCK_LABELS,
                format!("`{kind}` block takes {what}, found {}", block.labels.len()),
            )
            .hint(format!("write `{usage}`")),
        );
        return None;
    }
    Some(
        block
            .labels
            .iter()
            .map(|l| Spanned {
                value: l.as_str(),
                at: cx.at(l.span().unwrap_or_else(|| header(block))),
            })
            .collect(),
    )
}

/// A name label: 1–80 letters, digits, `_`, `.` or `-`, starting with a letter or digit.
pub fn name(cx: &mut Cx, label: &Spanned<&str>, what: &str) -> Option<Spanned<String>> {
    let n = label.value;
    let valid = !n.is_empty()
        && n.len() <= 80
        && n.starts_with(|c: char| c.is_ascii_alphanumeric())
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-');
    if !valid {
        cx.bad(
            Bad::new(
                label.at.span.clone(),
                codes::INVALID_NAME,
                format!("invalid {what} name `{n}`"),
            )
            .hint(
                "names are 1–80 letters, digits, `_`, `.` or `-`, starting with a letter or digit",
            ),
        );
        return None;
    }
    Some(Spanned {
        value: n.to_string(),
        at: label.at.clone(),
    })
}

/// The attributes of a block, checked against the names it takes; nested blocks of type
/// `nested` are returned, others reported.
pub fn fields<'b>(
    cx: &mut Cx,
    block: &'b Block,
    what: &str,
    allowed: &[&'static str],
    nested: Option<&str>,
) -> (Vec<(&'static str, &'b Attribute)>, Vec<&'b Block>) {
    let mut found = Vec::new();
    let mut blocks = Vec::new();
    for structure in block.body.iter() {
        if let Some(attr) = structure.as_attribute() {
            let key = attr.key.as_str();
            match allowed.iter().find(|&&a| a == key) {
                Some(&a) => found.push((a, attr)),
                None => {
                    let hint = did_you_mean(key, allowed.iter().copied()).unwrap_or_else(|| {
                        format!(
                            "{what} takes {}",
                            allowed
                                .iter()
                                .map(|a| format!("`{a}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    });
                    cx.bad(
                        Bad::new(
                            attr.key.span().unwrap_or(0..0),
                            codes::UNKNOWN_ATTRIBUTE,
                            format!("unknown attribute `{key}` in {what}"),
                        )
                        .hint(hint),
                    );
                }
            }
        } else if let Some(inner) = structure.as_block() {
            if Some(inner.ident.as_str()) == nested {
                blocks.push(inner);
            } else {
                let hint = match nested {
                    Some(n) => did_you_mean(inner.ident.as_str(), [n])
                        .unwrap_or_else(|| format!("{what} holds only `{n}` blocks")),
                    None => format!("{what} holds no blocks"),
                };
                cx.bad(
                    Bad::new(
                        inner.ident.span().unwrap_or(0..0),
                        codes::UNEXPECTED_STRUCTURE,
                        format!("unexpected block `{}` in {what}", inner.ident.as_str()),
                    )
                    .hint(hint),
                );
            }
        }
    }
    (found, blocks)
}

pub fn get<'b>(found: &[(&'static str, &'b Attribute)], key: &str) -> Option<&'b Attribute> {
    found.iter().find(|(k, _)| *k == key).map(|(_, a)| *a)
}

/// Reports each of `keys` missing from `found`, at the block header.
pub fn require(
    cx: &mut Cx,
    block: &Block,
    what: &str,
    found: &[(&'static str, &Attribute)],
    keys: &[&str],
) {
    for key in keys {
        if get(found, key).is_none() {
            cx.bad(Bad::new(
                header(block),
                codes::MISSING_ATTRIBUTE,
                format!("{what} is missing `{key}`"),
            ));
        }
    }
}

pub fn span(attr: &Attribute) -> Range<usize> {
    attr.value.span().or_else(|| attr.span()).unwrap_or(0..0)
}

pub fn key(attr: &Attribute) -> &str {
    attr.key.as_str()
}

/// A literal string attribute.
pub fn string(cx: &mut Cx, attr: &Attribute) -> Option<Spanned<String>> {
    let s = cx.ok(values::string(
        &attr.value,
        cx.text,
        key(attr),
        false,
        &span(attr),
    ))?;
    Some(Spanned {
        value: s.to_string(),
        at: cx.at(span(attr)),
    })
}

/// A non-empty literal string attribute.
pub fn nonempty(cx: &mut Cx, attr: &Attribute) -> Option<Spanned<String>> {
    let s = cx.ok(values::nonempty_string(
        &attr.value,
        cx.text,
        key(attr),
        &span(attr),
    ))?;
    Some(Spanned {
        value: s.to_string(),
        at: cx.at(span(attr)),
    })
}

/// The list elements of an attribute.
pub fn list<'b>(cx: &mut Cx, attr: &'b Attribute) -> Option<Vec<&'b Expression>> {
    let a = cx.ok(values::list(&attr.value, key(attr), &span(attr)))?;
    Some(a.iter().collect())
}

fn settings(cx: &mut Cx, block: &Block) -> Option<SettingsDecl> {
    labels(cx, block, 0, "settings { … }")?;
    const KEYS: [&str; 6] = [
        "rule_prefix",
        "allow_priority",
        "deny_priority",
        "approvals_required",
        "justification_pattern",
        "approval_signers",
    ];
    let (found, _) = fields(cx, block, "`settings`", &KEYS, None);
    let mut decl = SettingsDecl {
        at: cx.at(header(block)),
        settings: Settings::default(),
        allow_at: None,
        deny_at: None,
        approvals_at: None,
        pattern: None,
        signers: None,
    };
    if let Some(attr) = get(&found, "approval_signers") {
        if let Some(path) = nonempty(cx, attr) {
            decl.settings.approval_signers = Some(path.value.clone());
            decl.signers = Some(path);
        }
    }
    if let Some(attr) = get(&found, "rule_prefix") {
        if let Some(p) = nonempty(cx, attr) {
            let valid = p.value.len() <= 24
                && p.value.starts_with(|c: char| c.is_ascii_alphanumeric())
                && p.value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-');
            if valid {
                decl.settings.rule_prefix = p.value;
            } else {
                cx.bad(
                    Bad::new(
                        p.at.span,
                        codes::INVALID_VALUE,
                        format!("invalid `rule_prefix` `{}`", p.value),
                    )
                    .hint("use at most 24 letters, digits, `_`, `.` or `-`, starting with a letter or digit"),
                );
            }
        }
    }
    for (key, slot) in [("allow_priority", 0), ("deny_priority", 1)] {
        if let Some(attr) = get(&found, key) {
            let at = cx.at(span(attr));
            if let Some(band) = band(cx, attr) {
                if slot == 0 {
                    decl.settings.allow_priority = band;
                    decl.allow_at = Some(at);
                } else {
                    decl.settings.deny_priority = band;
                    decl.deny_at = Some(at);
                }
            }
        }
    }
    if let Some(attr) = get(&found, "approvals_required") {
        let at = cx.at(span(attr));
        if let Some(n) = cx.ok(values::integer(&attr.value, key(attr), &span(attr))) {
            match u32::try_from(n) {
                Ok(n) if n <= 100 => {
                    decl.settings.approvals_required = n;
                    decl.approvals_at = Some(at);
                }
                _ => cx.bad(Bad::new(
                    at.span,
                    codes::INVALID_VALUE,
                    format!("`approvals_required` must be between 0 and 100, found `{n}`"),
                )),
            }
        }
    }
    if let Some(attr) = get(&found, "justification_pattern") {
        if let Some(p) = string(cx, attr) {
            match Regex::new(&p.value) {
                Ok(re) => {
                    decl.settings.justification_pattern = Some(p.value);
                    decl.pattern = Some(Spanned {
                        value: re,
                        at: p.at,
                    });
                }
                Err(err) => {
                    let detail = err.to_string();
                    let detail = detail
                        .lines()
                        .rev()
                        .find(|l| !l.trim().is_empty())
                        .unwrap_or("")
                        .trim()
                        .trim_start_matches("error: ")
                        .to_string();
                    cx.bad(
                        Bad::new(
                            p.at.span,
                            codes::INVALID_REGEX,
                            format!("`justification_pattern` is not a valid regular expression: {detail}"),
                        )
                        .hint("the syntax is Rust's `regex` crate; escape special characters such as `(` with `\\\\`"),
                    );
                }
            }
        }
    }
    Some(decl)
}

/// A priority band `[low, high]` inside 100–4096 with low <= high.
fn band(cx: &mut Cx, attr: &Attribute) -> Option<PriorityBand> {
    let at = span(attr);
    let name = key(attr).to_string();
    let shape = || {
        Bad::new(
            at.clone(),
            codes::INVALID_BAND,
            format!("`{name}` must be a list of two numbers `[low, high]`"),
        )
        .hint(format!("write `{name} = [100, 199]`"))
    };
    let items = match &attr.value {
        Expression::Array(a) if a.len() == 2 => a.iter().collect::<Vec<_>>(),
        Expression::Array(_) => {
            cx.bad(shape());
            return None;
        }
        other => {
            cx.bad(shape().hint(format!(
                "`{name}` must be a list, found {}; write `{name} = [100, 199]`",
                values::kind(other)
            )));
            return None;
        }
    };
    let mut ends = [0u16; 2];
    for (i, item) in items.iter().enumerate() {
        let n = cx.ok(values::integer(item, &name, &at))?;
        if !(100..=4096).contains(&n) {
            cx.bad(
                Bad::new(
                    values::span_of(item, &at),
                    codes::INVALID_BAND,
                    format!("priority `{n}` is outside 100–4096"),
                )
                .hint("NSG rule priorities run from 100 to 4096"),
            );
            return None;
        }
        ends[i] = n as u16;
    }
    if ends[0] > ends[1] {
        cx.bad(
            Bad::new(
                at,
                codes::INVALID_BAND,
                format!(
                    "`{name}` starts at `{}`, above its end `{}`",
                    ends[0], ends[1]
                ),
            )
            .hint(format!("write `[{}, {}]`", ends[1], ends[0])),
        );
        return None;
    }
    Some(PriorityBand {
        low: ends[0],
        high: ends[1],
    })
}

fn provider(cx: &mut Cx, block: &Block) -> Option<ProviderDecl> {
    let labels = labels(cx, block, 2, "provider \"azure\" \"prod\" { … }")?;
    let kind_label = &labels[0];
    let Some(kind) = PROVIDER_KINDS
        .iter()
        .copied()
        .find(|k| *k == kind_label.value)
    else {
        let hint = did_you_mean(kind_label.value, PROVIDER_KINDS)
            .unwrap_or_else(|| "provider kinds are `azure`, `nftables` and `snapshot`".to_string());
        cx.bad(
            Bad::new(
                kind_label.at.span.clone(),
                codes::UNKNOWN_PROVIDER_KIND,
                format!("unknown provider kind `{}`", kind_label.value),
            )
            .hint(hint),
        );
        return None;
    };
    let name = name(cx, &labels[1], "provider")?;
    let what = format!("provider `{kind}.{}`", name.value);
    let before = cx.errors();
    let config = match kind {
        "azure" => {
            let (found, _) = fields(
                cx,
                block,
                &what,
                &["subscription_id", "mode", "endpoint", "read"],
                None,
            );
            require(cx, block, &what, &found, &["subscription_id"]);
            let subscription = get(&found, "subscription_id").and_then(|a| nonempty(cx, a));
            if let Some(s) = &subscription {
                if s.value.contains(|c: char| c == '/' || c.is_whitespace()) {
                    cx.bad(
                        Bad::new(
                            s.at.span.clone(),
                            codes::INVALID_VALUE,
                            format!("invalid `subscription_id` `{}`", s.value),
                        )
                        .hint("write the subscription's id alone, such as `00000000-0000-0000-0000-000000000000`"),
                    );
                }
            }
            let mode = match get(&found, "mode").and_then(|a| string(cx, a)) {
                None => AzureMode::Nsg,
                Some(m) => match m.value.as_str() {
                    "nsg" => AzureMode::Nsg,
                    "defender" => AzureMode::Defender,
                    other => {
                        cx.bad(
                            Bad::new(
                                m.at.span,
                                codes::INVALID_MODE,
                                format!("unknown azure mode `{other}`"),
                            )
                            .hint("`mode` is `nsg` (rules in the NSG) or `defender` (Defender for Cloud JIT)"),
                        );
                        AzureMode::Nsg
                    }
                },
            };
            let endpoint = get(&found, "endpoint").and_then(|a| nonempty(cx, a));
            if let Some(e) = &endpoint {
                let rest = e
                    .value
                    .strip_prefix("https://")
                    .or_else(|| e.value.strip_prefix("http://"));
                if rest.is_none_or(|r| r.is_empty() || r.contains(char::is_whitespace)) {
                    cx.bad(
                        Bad::new(
                            e.at.span.clone(),
                            codes::INVALID_VALUE,
                            format!("`endpoint` `{}` is not an http(s) URL", e.value),
                        )
                        .hint("write a base URL such as `https://management.azure.com`"),
                    );
                }
            }
            if let Some(r) = get(&found, "read").and_then(|a| string(cx, a)) {
                if read_mode(&r.value).is_none() {
                    let hint = did_you_mean(&r.value, READ_MODES).unwrap_or_else(|| {
                        "`read` is `auto` (Resource Graph for many NSGs), `resource_graph` or `direct`"
                            .to_string()
                    });
                    cx.bad(
                        Bad::new(
                            r.at.span,
                            codes::INVALID_READ_MODE,
                            format!("unknown `read` mode `{}`", r.value),
                        )
                        .hint(hint),
                    );
                }
            }
            subscription.map(|s| ProviderConfig::Azure {
                subscription_id: s.value,
                mode,
                endpoint: endpoint.map(|e| e.value.trim_end_matches('/').to_string()),
            })
        }
        "nftables" => {
            let (found, _) = fields(cx, block, &what, &["table"], None);
            require(cx, block, &what, &found, &["table"]);
            let table = get(&found, "table").and_then(|a| nonempty(cx, a));
            if let Some(t) = &table {
                let valid = t.value.len() <= 64
                    && t.value.starts_with(|c: char| c.is_ascii_alphabetic())
                    && t.value
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
                if !valid {
                    cx.bad(
                        Bad::new(
                            t.at.span.clone(),
                            codes::INVALID_VALUE,
                            format!("invalid nftables table name `{}`", t.value),
                        )
                        .hint("use up to 64 letters, digits, `_` or `-`, starting with a letter"),
                    );
                }
            }
            table.map(|t| ProviderConfig::Nftables { table: t.value })
        }
        _ => {
            let (found, _) = fields(cx, block, &what, &["path"], None);
            require(cx, block, &what, &found, &["path"]);
            get(&found, "path")
                .and_then(|a| nonempty(cx, a))
                .map(|p| ProviderConfig::Snapshot { path: p.value })
        }
    };
    Some(ProviderDecl {
        kind,
        name,
        config: config.filter(|_| cx.errors() == before),
    })
}
