//! Exact numbers in a snapshot. serde_json writes back a number it read in its own spelling:
//! `1e400` is out of range and not read at all, `0.10` comes back as `0.1`, `2.5E-7` as
//! `2.5e-7`, `12345678901234567890123` loses digits. While the snapshot holds the file as a JSON
//! tree, every number token that would not come back byte for byte is held as a marked string,
//! and [`restore`] writes its exact text back. Numbers that round-trip (every number jit itself
//! reads, such as a rule's `priority`) stay numbers.
//!
//! (serde_json's `arbitrary_precision` feature is not enough: it keeps digits but respells
//! exponents, and it changes number handling for every crate in the build.)

use std::borrow::Cow;

/// The marker's JSON spelling, after the opening quote of the string that holds a number.
const MARK: &[u8] = b"\\u0000jit-number:";

/// `bytes` with every number token that would not round-trip through serde_json replaced by
/// a marked string. A file that already holds the marker text is returned as it is (and then
/// read as serde_json reads it), so no string of the file can ever be mistaken for a number.
pub(super) fn protect(bytes: &[u8]) -> Cow<'_, [u8]> {
    if contains(bytes, b"jit-number:") {
        return Cow::Borrowed(bytes);
    }
    let mut out: Option<Vec<u8>> = None;
    let mut last = 0;
    let mut i = 0;
    let mut in_string = false;
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            match b {
                b'\\' => i += 2,
                b'"' => {
                    in_string = false;
                    i += 1
                }
                _ => i += 1,
            }
            continue;
        }
        match b {
            b'"' => {
                in_string = true;
                i += 1;
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                while i < bytes.len()
                    && matches!(bytes[i], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
                {
                    i += 1;
                }
                let token = &bytes[start..i];
                if is_json_number(token) && !round_trips(token) {
                    let o = out.get_or_insert_with(|| Vec::with_capacity(bytes.len() + 64));
                    o.extend_from_slice(&bytes[last..start]);
                    o.push(b'"');
                    o.extend_from_slice(MARK);
                    o.extend_from_slice(token);
                    o.push(b'"');
                    last = i;
                }
            }
            _ => i += 1,
        }
    }
    match out {
        None => Cow::Borrowed(bytes),
        Some(mut o) => {
            o.extend_from_slice(&bytes[last..]);
            Cow::Owned(o)
        }
    }
}

/// Serialised JSON with every marked string written back as the number it held.
pub(super) fn restore(json: Vec<u8>) -> Vec<u8> {
    let open: Vec<u8> = [b"\"".as_slice(), MARK].concat();
    if !contains(&json, &open) {
        return json;
    }
    let mut out = Vec::with_capacity(json.len());
    let mut rest = json.as_slice();
    while let Some(at) = find(rest, &open) {
        out.extend_from_slice(&rest[..at]);
        let token = &rest[at + open.len()..];
        let end = token.iter().position(|&b| b == b'"').unwrap_or(token.len());
        out.extend_from_slice(&token[..end]);
        rest = token.get(end + 1..).unwrap_or_default();
    }
    out.extend_from_slice(rest);
    out
}

/// JSON's number grammar: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
fn is_json_number(t: &[u8]) -> bool {
    let mut i = usize::from(t.first() == Some(&b'-'));
    let digits = |i: &mut usize| {
        let start = *i;
        while t.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    match t.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            digits(&mut i);
        }
        _ => return false,
    }
    if t.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    }
    if matches!(t.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(t.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == t.len()
}

/// Whether serde_json reads `token` and writes it back the same.
fn round_trips(token: &[u8]) -> bool {
    std::str::from_utf8(token)
        .ok()
        .and_then(|s| serde_json::from_str::<serde_json::Number>(s).ok())
        .is_some_and(|n| n.to_string().as_bytes() == token)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    find(haystack, needle).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_numbers_survive_a_tree_round_trip() {
        let text = br#"{"a": 1e400, "b": 0.10, "c": 12345678901234567890123, "d": 2.5E-7, "e": 100, "f": -0.0, "g": "1e400 \" 0.10", "h": [1.50, -7]}"#;
        let protected = protect(text);
        let value: serde_json::Value = serde_json::from_slice(&protected).unwrap();
        assert_eq!(value["e"], 100, "round-tripping numbers stay numbers");
        assert_eq!(value["h"][1], -7);
        let back = restore(serde_json::to_vec(&value).unwrap());
        assert_eq!(
            String::from_utf8(back).unwrap(),
            r#"{"a":1e400,"b":0.10,"c":12345678901234567890123,"d":2.5E-7,"e":100,"f":-0.0,"g":"1e400 \" 0.10","h":[1.50,-7]}"#
        );
    }

    #[test]
    fn a_file_holding_the_marker_is_read_as_it_is() {
        let text = br#"{"a": "\u0000jit-number:5", "b": 0.10}"#;
        assert!(matches!(protect(text), Cow::Borrowed(_)));
    }

    #[test]
    fn invalid_numbers_are_left_for_the_parser_to_report() {
        for bad in [&b"[01]"[..], b"[1.]", b"[-]", b"[1e]", b"[--1]"] {
            assert_eq!(&*protect(bad), bad);
        }
    }
}
