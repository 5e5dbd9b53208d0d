//! The read path of the snapshot provider, built for large files: the document is split into
//! NSGs as borrowed raw JSON, and only the NSGs asked for are parsed further, one rule at a
//! time and on every core, so memory stays near the size of the file and of the rules kept.
//!
//! It reads exactly what [`Document`](super::Document) reads (same shapes, same errors, same
//! fingerprints); `tests.rs` checks the two agree.

use std::collections::HashSet;

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use super::strip_position;
use crate::digest::{self, canonical_json};
use crate::live::{name_from_id, scope_key, Live, Scope};
use crate::platform::nsg::rule::json_kind;
use crate::platform::nsg::{self, LiveRule, Rule};
use crate::providers::ProviderError;

/// The top-level object: a list call's `{"value": [...]}`, or one NSG.
#[derive(Deserialize)]
struct TopHead<'a> {
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    value: Option<&'a RawValue>,
}

/// What the read needs of an NSG; everything else is skipped unparsed.
#[derive(Deserialize)]
struct NsgHead<'a> {
    #[serde(default)]
    id: Option<Value>,
    #[serde(default)]
    name: Option<Value>,
    #[serde(default)]
    etag: Option<Value>,
    #[serde(borrow, default)]
    properties: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "securityRules")]
    security_rules: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct PropsHead<'a> {
    #[serde(borrow, default, rename = "securityRules")]
    security_rules: Option<&'a RawValue>,
}

/// Reads the NSGs whose keys are in `wanted` (every NSG's id is checked for presence and
/// uniqueness; only wanted NSGs have their rules parsed).
pub(super) fn read_live(
    bytes: &[u8],
    source: &str,
    wanted: &HashSet<String>,
) -> Result<Live, ProviderError> {
    let corrupt = |message: String| ProviderError::Corrupt {
        source_name: source.to_string(),
        message,
    };
    let root: &RawValue = serde_json::from_slice(bytes).map_err(|e| {
        corrupt(format!(
            "invalid JSON at line {}, column {}: {}",
            e.line(),
            e.column(),
            strip_position(&e.to_string())
        ))
    })?;
    let shape_error =
        || corrupt("expected an NSG object, an array of NSGs or `{\"value\": [...]}`".into());
    let nsgs: Vec<&RawValue> = match first_byte(root) {
        b'[' => serde_json::from_str(root.get()).map_err(|_| shape_error())?,
        b'{' => {
            let top: TopHead = serde_json::from_str(root.get()).map_err(|_| shape_error())?;
            match top.value {
                Some(list) if top.id.is_none() && first_byte(list) == b'[' => {
                    serde_json::from_str(list.get()).map_err(|_| shape_error())?
                }
                _ => vec![root],
            }
        }
        _ => return Err(shape_error()),
    };

    // NSGs are independent: parse them on every core, then check ids in file order, so the
    // first problem in the file is the one reported.
    let parsed = parallel_map(&nsgs, |i, raw| read_nsg(i, raw, wanted, &corrupt));
    let mut live = Live::default();
    let mut seen = HashSet::with_capacity(nsgs.len());
    for result in parsed {
        let (id, nsg) = result?;
        let key = scope_key(&id);
        if !seen.insert(key.clone()) {
            return Err(corrupt(format!("NSG `{id}` appears twice")));
        }
        match nsg {
            Some(Ok(nsg)) => {
                live.scopes.insert(key, nsg);
            }
            // A wanted NSG whose rules are not understood fails alone (see `Provider::read`).
            Some(Err(e)) => {
                live.failed.insert(key, e.to_string());
            }
            None => {}
        }
    }
    Ok(live)
}

/// One NSG: its id (a file without one is corrupt as a whole), and, when it is wanted, its
/// rules or why they cannot be read.
fn read_nsg(
    i: usize,
    raw: &RawValue,
    wanted: &HashSet<String>,
    corrupt: &(dyn Fn(String) -> ProviderError + Sync),
) -> Result<(String, Option<Result<Scope, ProviderError>>), ProviderError> {
    let no_id = || corrupt(format!("NSG #{} has no string `id`", i + 1));
    if first_byte(raw) != b'{' {
        return Err(no_id());
    }
    let mut head: NsgHead = serde_json::from_str(raw.get()).map_err(|e| {
        corrupt(format!(
            "NSG #{}: {}",
            i + 1,
            strip_position(&e.to_string())
        ))
    })?;
    let Some(Value::String(id)) = head.id.take() else {
        return Err(no_id());
    };
    if !wanted.contains(&scope_key(&id)) {
        return Ok((id, None));
    }
    let nsg = read_rules(&id, head, corrupt);
    Ok((id, Some(nsg)))
}

/// The rules and fingerprint of a wanted NSG.
fn read_rules(
    id: &str,
    head: NsgHead<'_>,
    corrupt: &(dyn Fn(String) -> ProviderError + Sync),
) -> Result<Scope, ProviderError> {
    let name = match head.name {
        Some(Value::String(n)) => n,
        _ => name_from_id(id).to_string(),
    };
    let in_nsg = |m: String| corrupt(format!("NSG `{name}`: {m}"));
    // Raw shape when `properties` is an object; flattened when `securityRules` is on top.
    let rules_raw = match head.properties {
        Some(p) if first_byte(p) == b'{' => {
            let props: PropsHead = serde_json::from_str(p.get())
                .map_err(|e| in_nsg(strip_position(&e.to_string()).to_string()))?;
            props.security_rules
        }
        _ => head.security_rules,
    };
    let rule_values: Vec<&RawValue> = match rules_raw {
        None => Vec::new(),
        Some(r) if r.get() == "null" => Vec::new(),
        Some(r) if first_byte(r) == b'[' => serde_json::from_str(r.get())
            .map_err(|e| in_nsg(strip_position(&e.to_string()).to_string()))?,
        Some(r) => {
            let found: Value = serde_json::from_str(r.get()).unwrap_or(Value::Null);
            return Err(in_nsg(format!(
                "`securityRules` should be an array, found {}",
                json_kind(&found)
            )));
        }
    };
    let etag = match head.etag {
        Some(Value::String(e)) => Some(e),
        _ => None,
    };
    let mut canonical_rules = etag.is_none().then(|| String::from("["));
    let mut rules = Vec::with_capacity(rule_values.len());
    for (n, raw_rule) in rule_values.iter().enumerate() {
        // Numbers that serde_json cannot hold (`1e400`) are read as the apply reads them.
        let value: Value =
            serde_json::from_slice(&super::numbers::protect(raw_rule.get().as_bytes()))
                .map_err(|e| in_nsg(strip_position(&e.to_string()).to_string()))?;
        let rule = Rule::from_arm(&value).map_err(|e| in_nsg(e.to_string()))?;
        if let Some(text) = canonical_rules.as_mut() {
            if n > 0 {
                text.push(',');
            }
            canonical_json(&value, text);
        }
        let etag = match value.get("etag") {
            Some(Value::String(e)) => Some(e.clone()),
            _ => None,
        };
        rules.push(LiveRule { rule, etag });
    }
    let fingerprint = match etag {
        Some(etag) => etag,
        None => {
            let mut text = canonical_rules.unwrap_or_else(|| String::from("["));
            text.push(']');
            digest::tagged(text.as_bytes())
        }
    };
    Ok(nsg::scope(id.to_string(), name, fingerprint, rules))
}

/// `f` over `items` on up to all cores, results in input order.
fn parallel_map<'a, T: Sync, R: Send>(
    items: &'a [T],
    f: impl Fn(usize, &'a T) -> R + Sync,
) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    if threads < 2 || items.len() < 64 {
        return items.iter().enumerate().map(|(i, t)| f(i, t)).collect();
    }
    let chunk = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .enumerate()
            .map(|(c, part)| {
                scope.spawn(move || {
                    part.iter()
                        .enumerate()
                        .map(|(i, t)| f(c * chunk + i, t))
                        .collect::<Vec<R>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a snapshot reader thread panicked"))
            .collect()
    })
}

fn first_byte(raw: &RawValue) -> u8 {
    raw.get().bytes().next().unwrap_or(b' ')
}
