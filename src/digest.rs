//! SHA-256 digests as lowercase hex, and canonical JSON (keys sorted, no spaces) for hashing
//! JSON by value: rule-name hashes (`compile`), fingerprints of live rules (providers), plan
//! hashes (audit log). Pure.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// The SHA-256 of `bytes`, 64 lowercase hex digits.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// `sha256:<hex>`, the form fingerprints and plan hashes are written in.
pub fn tagged(bytes: &[u8]) -> String {
    format!("sha256:{}", sha256_hex(bytes))
}

/// `sha256:<hex>` of a JSON value by value: the same for any key order or spacing.
pub fn json_fingerprint(value: &Value) -> String {
    let mut text = String::new();
    canonical_json(value, &mut text);
    tagged(text.as_bytes())
}

/// Appends the canonical form of `value`: object keys sorted, no whitespace.
pub fn canonical_json(value: &Value, out: &mut String) {
    match value {
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical_json(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                canonical_json(&map[key], out);
            }
            out.push('}');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_fingerprint_ignores_key_order_and_spacing() {
        let a = json!({"b": 1, "a": [true, {"y": null, "x": "s"}]});
        let b: Value =
            serde_json::from_str(r#"{ "a": [true, {"x": "s", "y": null}], "b": 1 }"#).unwrap();
        assert_eq!(json_fingerprint(&a), json_fingerprint(&b));
        assert_ne!(json_fingerprint(&a), json_fingerprint(&json!({"b": 2})));
        let mut text = String::new();
        canonical_json(&b, &mut text);
        assert_eq!(text, r#"{"a":[true,{"x":"s","y":null}],"b":1}"#);
    }

    #[test]
    fn known_digest() {
        assert_eq!(
            tagged(b"abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
