//! The `snapshot` provider: live state is a JSON file of NSGs, read and written in place.
//!
//! The file holds one NSG object, an array of them, or `{"value": [...]}` (what the REST list
//! call returns). Each NSG and each rule is in ARM's raw shape (fields under `properties`) or in
//! the Azure CLI's flattened shape (`securityRules` and rule fields at the top level). The file is
//! kept as a JSON tree, so `apply` changes only the rules it must and writes everything else back
//! with the same value: foreign rules, unknown fields, the top-level form, each NSG's shape and
//! the rule order (new rules are appended). Writes are atomic: a temporary file in the same
//! directory, fsync, rename.
//!
//! Several applies may share one file (config directories whose NSGs live in one export).
//! `apply` holds an exclusive lock on a sidecar `<file>.lock` from its read to its rename, so
//! each read–modify–rename sees the one before it and none is lost (the file itself cannot be
//! locked: the rename replaces it). A symlinked snapshot is written through to its target, so
//! the link stays a link, and the lock is taken beside the target. The rewrite keeps the
//! file's permission bits (a 0600 export stays 0600). Numbers keep their exact text (`1e400`,
//! `0.10`, see `numbers`).
//!
//! `apply` checks, under the lock, that each NSG it writes still has the fingerprint the plan
//! saw; the changes of one that moved are [`Outcome::Stale`] and none of them is written.
//!
//! Fingerprint of an NSG: its `etag` when it has one (apply then gives it a new one, as Azure
//! does), else `sha256:` over the canonical JSON of its security rules. A hand edit of a file
//! whose NSGs carry etags is therefore only noticed if the etag is changed too.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

use crate::atomic::write_atomic;
use crate::digest::{self, canonical_json};
use crate::live::{name_from_id, scope_key, Live, Scope};
use crate::plan::Action;
use crate::platform::nsg::rule::json_kind;
use crate::platform::nsg::typed::{rule_changes, RuleChange};
use crate::platform::nsg::{self, LiveRule, Rule};
use crate::providers::{Batch, OnOutcome, Outcome, Provider, ProviderError};

const RULE_TYPE: &str = "Microsoft.Network/networkSecurityGroups/securityRules";

/// Live state in a local JSON file.
#[derive(Debug, Clone)]
pub struct SnapshotProvider {
    address: String,
    /// Where the file is, resolved against the config directory.
    path: PathBuf,
    /// Only rules named `<prefix>-…` that carry the marker are changed or deleted.
    rule_prefix: String,
}

impl SnapshotProvider {
    /// `address` is `snapshot.<name>`; `path` the file, already resolved against the config dir.
    pub fn new(address: impl Into<String>, path: impl Into<PathBuf>) -> SnapshotProvider {
        SnapshotProvider {
            address: address.into(),
            path: path.into(),
            rule_prefix: "jit".to_string(),
        }
    }

    /// The policy's `rule_prefix` (default `jit`): the provider changes, deletes and creates
    /// only rules named `<prefix>-…` with the marker in their description.
    pub fn with_rule_prefix(mut self, prefix: &str) -> SnapshotProvider {
        self.rule_prefix = prefix.to_string();
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file an apply reads and replaces: the snapshot path with every symbolic link
    /// resolved.
    fn resolved(&self) -> Result<PathBuf, ProviderError> {
        fs::canonicalize(&self.path).map_err(|source| ProviderError::Io {
            context: format!("cannot read snapshot `{}`", self.path.display()),
            source,
        })
    }

    fn load(&self, real: &Path) -> Result<(Document, Vec<u8>), ProviderError> {
        let bytes = fs::read(real).map_err(|source| ProviderError::Io {
            context: format!("cannot read snapshot `{}`", self.path.display()),
            source,
        })?;
        let doc = Document::parse(&bytes, &self.path.display().to_string())?;
        Ok((doc, bytes))
    }
}

impl Provider for SnapshotProvider {
    fn address(&self) -> String {
        self.address.clone()
    }

    fn read(&self, nsg_ids: &[String]) -> Result<Live, ProviderError> {
        let bytes = fs::read(&self.path).map_err(|source| ProviderError::Io {
            context: format!("cannot read snapshot `{}`", self.path.display()),
            source,
        })?;
        let wanted: HashSet<String> = nsg_ids.iter().map(|id| scope_key(id)).collect();
        let mut live = read::read_live(&bytes, &self.path.display().to_string(), &wanted)?;
        for id in nsg_ids {
            if !live.scopes.contains_key(&scope_key(id))
                && !live.failed.contains_key(&scope_key(id))
            {
                let missing = ProviderError::NotFound {
                    what: "NSG",
                    id: format!("{id} (in snapshot `{}`)", self.path.display()),
                    hint: None,
                };
                live.failed.insert(scope_key(id), missing.to_string());
            }
        }
        Ok(live)
    }

    fn apply(
        &self,
        batch: Batch<'_>,
        on_outcome: &OnOutcome<'_>,
    ) -> Result<Vec<Outcome>, ProviderError> {
        // Refused before the file is even read: nothing is written.
        let changes =
            rule_changes(batch.changes, &self.rule_prefix).map_err(ProviderError::Other)?;
        let real = self.resolved()?;
        // Held until this function returns: read, modify and rename as one step.
        let _lock = lock_exclusive(&real).map_err(|source| ProviderError::Io {
            context: format!("cannot lock snapshot `{}`", self.path.display()),
            source,
        })?;
        let (mut doc, original) = self.load(&real)?;
        // The NSGs to change must be understood and as the plan saw them; the others are
        // written back as they are.
        let touched: HashSet<String> = changes.iter().map(|c| scope_key(c.nsg_id())).collect();
        let mut stale: HashMap<String, String> = HashMap::new();
        for nsg in doc.nsgs() {
            let id = nsg_id(nsg).unwrap_or_default();
            if touched.contains(&scope_key(id)) {
                let live = doc.live_nsg(nsg)?;
                if batch.fingerprint(id) != Some(live.fingerprint.as_str()) {
                    stale.insert(
                        scope_key(id),
                        format!(
                            "stale: NSG `{}` changed since it was planned",
                            live.shown_name()
                        ),
                    );
                }
            }
        }
        let (outcomes, changed) = doc.apply_changes(&changes, &stale, &self.rule_prefix);
        let write_error = if changed {
            // Every jit apply holds the lock; a writer that does not (a hand edit, another
            // tool) may still have rewritten the file meanwhile: do not overwrite its work.
            let unchanged = fs::read(&real).is_ok_and(|now| now == original);
            if unchanged {
                write_atomic(&real, |file| file.write_all(&doc.to_bytes()))
                    .err()
                    .map(|e| format!("cannot write snapshot `{}`: {e}", self.path.display()))
            } else {
                Some(format!(
                    "snapshot `{}` changed while applying; re-run jit plan",
                    self.path.display()
                ))
            }
        } else {
            None
        };
        let out: Vec<Outcome> = outcomes
            .into_iter()
            .map(|outcome| match (&write_error, outcome) {
                (Some(e), Outcome::Applied) => Outcome::failed(e.clone()),
                (_, outcome) => outcome,
            })
            .collect();
        // One file write: its outcomes in one report.
        let reported: Vec<_> = changes.iter().map(|c| c.change).zip(&out).collect();
        on_outcome(&reported);
        Ok(out)
    }
}

/// How the file's NSGs are held at the top level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TopForm {
    Single,
    Array,
    /// `{"value": [...]}`, as the REST list call returns.
    Wrapped,
}

/// Where an NSG keeps its rules, and the shape new rules take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// `properties.securityRules`, rule fields under `properties`.
    Raw,
    /// `securityRules` at the top, rule fields at the top (`az … -o json`).
    Flat,
}

/// A parsed snapshot, kept as JSON so every field survives a rewrite.
#[derive(Debug, Clone)]
struct Document {
    root: Value,
    form: TopForm,
    /// One indentation level of the file; `None` when it was compact.
    indent: Option<Vec<u8>>,
    trailing_newline: bool,
    source: String,
}

impl Document {
    fn parse(bytes: &[u8], source: &str) -> Result<Document, ProviderError> {
        let corrupt = |message: String| ProviderError::Corrupt {
            source_name: source.to_string(),
            message,
        };
        let protected = numbers::protect(bytes);
        let root: Value = serde_json::from_slice(&protected).map_err(|e| {
            // Positions of the file as written.
            let e = serde_json::from_slice::<Value>(bytes).err().unwrap_or(e);
            corrupt(format!(
                "invalid JSON at line {}, column {}: {}",
                e.line(),
                e.column(),
                strip_position(&e.to_string())
            ))
        })?;
        let form = match &root {
            Value::Array(_) => TopForm::Array,
            Value::Object(o)
                if !o.contains_key("id") && o.get("value").is_some_and(Value::is_array) =>
            {
                TopForm::Wrapped
            }
            Value::Object(_) => TopForm::Single,
            _ => {
                return Err(corrupt(
                    "expected an NSG object, an array of NSGs or `{\"value\": [...]}`".into(),
                ))
            }
        };
        let doc = Document {
            root,
            form,
            indent: detect_indent(bytes),
            trailing_newline: bytes.ends_with(b"\n"),
            source: source.to_string(),
        };
        doc.check()?;
        Ok(doc)
    }

    /// Every NSG must have an id, unique in the file. (Rules are checked when an NSG is read.)
    fn check(&self) -> Result<(), ProviderError> {
        let mut seen = HashSet::new();
        for (i, nsg) in self.nsgs().iter().enumerate() {
            let id = nsg_id(nsg)
                .ok_or_else(|| self.corrupt(format!("NSG #{} has no string `id`", i + 1)))?;
            if !seen.insert(scope_key(id)) {
                return Err(self.corrupt(format!("NSG `{id}` appears twice")));
            }
        }
        Ok(())
    }

    fn corrupt(&self, message: String) -> ProviderError {
        ProviderError::Corrupt {
            source_name: self.source.clone(),
            message,
        }
    }

    fn nsgs(&self) -> &[Value] {
        match self.form {
            TopForm::Single => std::slice::from_ref(&self.root),
            TopForm::Array => self.root.as_array().map(Vec::as_slice).unwrap_or(&[]),
            TopForm::Wrapped => self.root["value"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or(&[]),
        }
    }

    fn nsgs_mut(&mut self) -> &mut [Value] {
        match self.form {
            TopForm::Single => std::slice::from_mut(&mut self.root),
            TopForm::Array => self
                .root
                .as_array_mut()
                .map(Vec::as_mut_slice)
                .unwrap_or(&mut []),
            TopForm::Wrapped => self.root["value"]
                .as_array_mut()
                .map(Vec::as_mut_slice)
                .unwrap_or(&mut []),
        }
    }

    fn live_nsg(&self, nsg: &Value) -> Result<Scope, ProviderError> {
        let id = nsg_id(nsg).unwrap_or_default().to_string();
        let name = nsg
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_else(|| name_from_id(&id))
            .to_string();
        let rules_value = rules_of(nsg).map_err(|m| self.corrupt(format!("NSG `{name}`: {m}")))?;
        let mut rules = Vec::with_capacity(rules_value.len());
        for value in rules_value {
            let rule =
                Rule::from_arm(value).map_err(|e| self.corrupt(format!("NSG `{name}`: {e}")))?;
            let etag = value
                .get("etag")
                .and_then(Value::as_str)
                .map(str::to_string);
            rules.push(LiveRule { rule, etag });
        }
        let fingerprint = match nsg.get("etag").and_then(Value::as_str) {
            Some(etag) => etag.to_string(),
            None => rules_hash(rules_value),
        };
        Ok(nsg::scope(id, name, fingerprint, rules))
    }

    /// Applies `changes` to the tree; one outcome per change, in order. Changes to one NSG stop
    /// at its first failure; those of a `stale` NSG are not made. The flag says whether the
    /// tree changed.
    fn apply_changes(
        &mut self,
        changes: &[RuleChange<'_>],
        stale: &HashMap<String, String>,
        rule_prefix: &str,
    ) -> (Vec<Outcome>, bool) {
        let index: HashMap<String, usize> = self
            .nsgs()
            .iter()
            .enumerate()
            .map(|(i, nsg)| (scope_key(nsg_id(nsg).unwrap_or_default()), i))
            .collect();
        let mut failed: BTreeMap<String, String> = BTreeMap::new();
        let mut touched: Vec<usize> = Vec::new();
        let mut outcomes = Vec::with_capacity(changes.len());
        for change in changes {
            let key = scope_key(change.nsg_id());
            if let Some(why) = stale.get(&key) {
                outcomes.push(Outcome::Stale(why.clone()));
                continue;
            }
            if let Some(first) = failed.get(&key) {
                outcomes.push(Outcome::Skipped(format!(
                    "not attempted: an earlier change to this NSG failed (`{first}`)"
                )));
                continue;
            }
            let result = match index.get(&key) {
                None => Err(format!(
                    "NSG `{}` not found in the snapshot",
                    change.nsg_id()
                )),
                Some(&i) => apply_change(&mut self.nsgs_mut()[i], change, rule_prefix)
                    .map(|changed| (i, changed)),
            };
            match result {
                Ok((i, changed)) => {
                    if changed && !touched.contains(&i) {
                        touched.push(i);
                    }
                    outcomes.push(Outcome::Applied);
                }
                Err(message) => {
                    failed.insert(key, change.address().to_string());
                    outcomes.push(Outcome::failed(message));
                }
            }
        }
        let changed = !touched.is_empty();
        for i in touched {
            renew_etags(&mut self.nsgs_mut()[i], changes);
        }
        (outcomes, changed)
    }

    /// The file's bytes: same indentation and final newline as it was read with.
    fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match &self.indent {
            Some(indent) => {
                let fmt = serde_json::ser::PrettyFormatter::with_indent(indent);
                let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
                serde::Serialize::serialize(&self.root, &mut ser)
                    .expect("a JSON value always serialises");
            }
            None => {
                serde_json::to_writer(&mut out, &self.root).expect("a JSON value always serialises")
            }
        }
        if self.trailing_newline {
            out.push(b'\n');
        }
        numbers::restore(out)
    }
}

fn nsg_id(nsg: &Value) -> Option<&str> {
    nsg.get("id").and_then(Value::as_str)
}

fn shape_of(nsg: &Value) -> Shape {
    match nsg {
        Value::Object(o) if !o.get("properties").is_some_and(Value::is_object) => {
            if o.contains_key("securityRules") {
                Shape::Flat
            } else {
                Shape::Raw
            }
        }
        _ => Shape::Raw,
    }
}

/// The NSG's security rules (not its default rules).
fn rules_of(nsg: &Value) -> Result<&[Value], String> {
    let field = match shape_of(nsg) {
        Shape::Raw => nsg.get("properties").and_then(|p| p.get("securityRules")),
        Shape::Flat => nsg.get("securityRules"),
    };
    match field {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(rules)) => Ok(rules),
        Some(other) => Err(format!(
            "`securityRules` should be an array, found {}",
            json_kind(other)
        )),
    }
}

fn rules_of_mut(nsg: &mut Value) -> Result<&mut Vec<Value>, String> {
    let shape = shape_of(nsg);
    let obj = nsg
        .as_object_mut()
        .ok_or_else(|| "NSG is not a JSON object".to_string())?;
    let holder = match shape {
        Shape::Raw => obj
            .entry("properties")
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .ok_or_else(|| "`properties` is not an object".to_string())?,
        Shape::Flat => obj,
    };
    let rules = holder.entry("securityRules").or_insert_with(|| json!([]));
    if rules.is_null() {
        *rules = json!([]);
    }
    rules
        .as_array_mut()
        .ok_or_else(|| "`securityRules` is not an array".to_string())
}

fn rule_name(rule: &Value) -> Option<&str> {
    rule.get("name").and_then(Value::as_str)
}

/// Whether a live rule is managed by jit, name prefix and marker both ([`Rule::is_managed`]),
/// checked on the rule as it is in the file now, whatever the plan says of it.
fn is_managed(rule: &Value, rule_prefix: &str) -> bool {
    Rule::from_arm(rule).is_ok_and(|r| r.is_managed(rule_prefix))
}

/// Applies one change to one NSG; `Ok(false)` when it was already in effect.
fn apply_change(
    nsg: &mut Value,
    change: &RuleChange<'_>,
    rule_prefix: &str,
) -> Result<bool, String> {
    let shape = shape_of(nsg);
    let nsg_id = nsg_id(nsg).unwrap_or_default().to_string();
    let nsg_etag = nsg.get("etag").and_then(Value::as_str).map(str::to_string);
    let resource_group = nsg.get("resourceGroup").cloned();
    let rules = rules_of_mut(nsg)?;
    let name = change.name();
    let position = rules
        .iter()
        .position(|r| rule_name(r).is_some_and(|n| n.eq_ignore_ascii_case(name)));
    let action = change.action();
    match action {
        Action::Create | Action::Update => {
            let after = change.after.as_ref().ok_or_else(|| {
                format!("this is a bug in jit: {action:?} of `{name}` has no `after`")
            })?;
            match position {
                Some(i) => {
                    if !is_managed(&rules[i], rule_prefix) {
                        return Err(format!(
                            "rule `{name}` exists and is not managed by jit; refusing to change \
                             it (re-run jit plan)"
                        ));
                    }
                    write_rule_fields(&mut rules[i], after);
                }
                None if action == Action::Update => {
                    return Err(format!("rule `{name}` no longer exists; re-run jit plan"));
                }
                None => rules.push(new_rule(shape, &nsg_id, nsg_etag, resource_group, after)),
            }
        }
        Action::Initiate => {
            return Err(format!(
                "rule `{name}`: a security rule cannot be initiated"
            ));
        }
        Action::Delete => {
            if let Some(i) = position {
                if !is_managed(&rules[i], rule_prefix) {
                    return Err(format!(
                        "rule `{name}` is not managed by jit; refusing to delete it (re-run jit \
                         plan)"
                    ));
                }
                rules.remove(i);
            } else {
                // Already gone: deleting is idempotent, so a re-run after a crash converges.
                return Ok(false);
            }
        }
    }
    Ok(true)
}

/// A rule as Azure would return it after a create, in the NSG's shape.
fn new_rule(
    shape: Shape,
    nsg_id: &str,
    nsg_etag: Option<String>,
    resource_group: Option<Value>,
    rule: &Rule,
) -> Value {
    let mut obj = Map::new();
    obj.insert("name".into(), json!(rule.name));
    obj.insert(
        "id".into(),
        json!(format!(
            "{}/securityRules/{}",
            nsg_id.trim_end_matches('/'),
            rule.name
        )),
    );
    if nsg_etag.is_some() {
        // Replaced by the NSG's new etag once all changes are in.
        obj.insert("etag".into(), json!(""));
    }
    obj.insert("type".into(), json!(RULE_TYPE));
    match shape {
        Shape::Raw => {
            let mut props = Map::new();
            props.insert("provisioningState".into(), json!("Succeeded"));
            props.extend(rule.arm_properties());
            obj.insert("properties".into(), Value::Object(props));
        }
        Shape::Flat => {
            obj.extend(rule.arm_properties());
            obj.insert("provisioningState".into(), json!("Succeeded"));
            if let Some(rg) = resource_group {
                obj.insert("resourceGroup".into(), rg);
            }
        }
    }
    Value::Object(obj)
}

/// Overwrites the fields jit understands, in place (key order kept), and clears the other half
/// of each singular/plural pair the way ARM does (`null` singular, `[]` plural).
fn write_rule_fields(rule: &mut Value, after: &Rule) {
    let Some(obj) = rule.as_object_mut() else {
        return;
    };
    let nested = matches!(obj.get("properties"), Some(Value::Object(_)));
    let props = if nested {
        obj.get_mut("properties")
            .and_then(Value::as_object_mut)
            .expect("checked above")
    } else {
        obj
    };
    let fields = after.arm_properties();
    for (singular, plural) in [
        ("sourceAddressPrefix", "sourceAddressPrefixes"),
        ("sourcePortRange", "sourcePortRanges"),
        ("destinationAddressPrefix", "destinationAddressPrefixes"),
        ("destinationPortRange", "destinationPortRanges"),
    ] {
        if fields.contains_key(singular) && props.contains_key(plural) {
            props.insert(plural.into(), json!([]));
        }
        if fields.contains_key(plural) && props.contains_key(singular) {
            props.insert(singular.into(), Value::Null);
        }
    }
    if after.description.is_none() {
        props.remove("description");
    }
    // An application security group jit's rule no longer has is gone, as after an ARM PUT.
    for key in [
        "sourceApplicationSecurityGroups",
        "destinationApplicationSecurityGroups",
    ] {
        if !fields.contains_key(key) {
            props.remove(key);
        }
    }
    for (key, value) in fields {
        props.insert(key, value);
    }
}

/// After a write Azure gives the NSG and every rule written a new etag; so does the snapshot,
/// when the NSG has etags at all.
fn renew_etags(nsg: &mut Value, changes: &[RuleChange<'_>]) {
    let Some(old) = nsg.get("etag").and_then(Value::as_str).map(str::to_string) else {
        return;
    };
    let id_key = scope_key(nsg_id(nsg).unwrap_or_default());
    let hash = {
        let rules = rules_of(nsg).unwrap_or(&[]);
        digest::sha256_hex(format!("{old}{}", rules_hash(rules)).as_bytes())
    };
    let etag = format!(
        "W/\"{}-{}-{}-{}-{}\"",
        &hash[0..8],
        &hash[8..12],
        &hash[12..16],
        &hash[16..20],
        &hash[20..32]
    );
    nsg["etag"] = json!(etag);
    let written: HashSet<String> = changes
        .iter()
        .filter(|c| scope_key(c.nsg_id()) == id_key && c.action() != Action::Delete)
        .map(|c| c.name().to_ascii_lowercase())
        .collect();
    if let Ok(rules) = rules_of_mut(nsg) {
        for rule in rules.iter_mut() {
            let hit = rule_name(rule).is_some_and(|n| written.contains(&n.to_ascii_lowercase()));
            if hit {
                if let Some(obj) = rule.as_object_mut() {
                    obj.insert("etag".into(), json!(etag));
                }
            }
        }
    }
}

/// `sha256:<hex>` over the canonical JSON (keys sorted, no spaces) of a rule list.
pub(crate) fn rules_hash(rules: &[Value]) -> String {
    let mut text = String::from("[");
    for (i, rule) in rules.iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        canonical_json(rule, &mut text);
    }
    text.push(']');
    digest::tagged(text.as_bytes())
}

/// One indentation level: the leading whitespace of the first indented line. `None` for a
/// compact file (no line break inside the JSON).
fn detect_indent(bytes: &[u8]) -> Option<Vec<u8>> {
    let body = bytes.trim_ascii_end();
    let nl = body.iter().position(|&b| b == b'\n')?;
    let rest = &body[nl + 1..];
    let width = rest
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    Some(if width == 0 {
        b"  ".to_vec()
    } else {
        rest[..width].to_vec()
    })
}

/// serde_json appends " at line L column C"; the message already says where.
fn strip_position(message: &str) -> &str {
    message
        .rfind(" at line ")
        .map_or(message, |i| &message[..i])
}

/// The sidecar lock of a file, `<file>.lock` beside it, locked exclusively (waiting for any
/// other holder). The lock is released when the returned file is dropped, or when the process
/// dies.
pub(crate) fn lock_exclusive(path: &Path) -> io::Result<fs::File> {
    let mut name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?
        .to_os_string();
    name.push(".lock");
    let lock = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path.with_file_name(name))?;
    lock.lock()?;
    Ok(lock)
}

mod numbers;
mod read;
#[cfg(test)]
mod tests;
