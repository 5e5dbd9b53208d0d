//! What makes a security rule jit's, in one place: rule names (`<prefix>-deny-<target>-<port>`,
//! `<prefix>-allow-<request>-<port>`, made ARM-legal with a stable hash when shortened), the
//! description marker `managed-by=jit` and its `request=` / `expires=` fields, and ARM's
//! limits on names and descriptions.

use jiff::Timestamp;

use crate::model::Grant;

/// Managed rules carry this in their description, after the name prefix.
pub const MANAGED_MARKER: &str = "managed-by=jit";

/// The longest rule name ARM accepts.
pub const MAX_NAME_LEN: usize = 80;
/// The longest rule description ARM accepts.
pub const MAX_DESCRIPTION_LEN: usize = 140;

/// Owned by jit: `name` starts with `<prefix>-` (case-insensitive, as ARM compares names) and
/// `description` carries the marker. Both, so a hand-made rule that happens to share the
/// prefix is still foreign.
pub fn is_managed(name: &str, description: Option<&str>, prefix: &str) -> bool {
    let name_ok = name
        .get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
        && name.as_bytes().get(prefix.len()) == Some(&b'-');
    let marker_ok =
        description.is_some_and(|d| d.split(';').any(|part| part.trim() == MANAGED_MARKER));
    name_ok && marker_ok
}

/// A `key=value` field of a managed description (`request`, `expires`).
pub fn description_field<'d>(description: Option<&'d str>, key: &str) -> Option<&'d str> {
    description?.split(';').find_map(|part| {
        let (k, v) = part.trim().split_once('=')?;
        (k == key).then_some(v)
    })
}

/// The `expires=` instant of a managed description, when it has a readable one.
pub fn expires(description: Option<&str>) -> Option<Timestamp> {
    description_field(description, "expires")?.parse().ok()
}

/// `<prefix>-deny-<target>-<port>`, made ARM-legal.
pub fn deny_rule_name(prefix: &str, target: &str, port: &str) -> String {
    rule_name(&format!("{prefix}-deny-{target}-{port}"))
}

/// `<prefix>-allow-<request>-<port>`, made ARM-legal.
pub fn allow_rule_name(prefix: &str, request: &str, port: &str) -> String {
    rule_name(&format!("{prefix}-allow-{request}-{port}"))
}

/// Makes `raw` a legal security rule name: 1–80 characters of `[A-Za-z0-9_.-]`, starting with a
/// word character and ending with a word character or `_`.
///
/// A legal name is returned unchanged. Otherwise illegal characters become `-`, a bad first
/// character becomes `_`, and the name gets `-` and 8 hex digits of the SHA-256 of `raw`
/// (truncated first if needed to fit 80 characters). The hash keeps names that differ only in
/// illegal characters, or beyond the 80th character, apart, and is stable across runs.
pub fn rule_name(raw: &str) -> String {
    if is_legal_rule_name(raw) {
        return raw.to_string();
    }
    let mut name: String = raw
        .chars()
        .map(|c| if is_name_char(c) { c } else { '-' })
        .collect();
    if !name.starts_with(is_word_char) {
        name.replace_range(..name.chars().next().map_or(0, char::len_utf8), "_");
    }
    let suffix = format!("-{}", short_hash(raw));
    name.truncate(MAX_NAME_LEN - suffix.len());
    name.push_str(&suffix);
    name
}

/// Whether ARM accepts `name` as a security rule name.
pub fn is_legal_rule_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name.chars().all(is_name_char)
        && name.starts_with(is_word_char)
        && name.ends_with(|c: char| is_word_char(c))
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn is_name_char(c: char) -> bool {
    is_word_char(c) || c == '.' || c == '-'
}

/// 8 hex digits of the SHA-256 of `text`.
pub fn short_hash(text: &str) -> String {
    let mut hex = crate::digest::sha256_hex(text.as_bytes());
    hex.truncate(8);
    hex
}

/// `managed-by=jit; request=<id>; expires=<RFC 3339>`, at most 140 characters.
pub fn grant_description(request: &str, expires: Timestamp) -> String {
    let head = format!("{MANAGED_MARKER}; request=");
    let tail = format!("; expires={expires}");
    let room = MAX_DESCRIPTION_LEN - head.len() - tail.len();
    format!("{head}{}{tail}", request_ref(request, room))
}

/// The request id as a description carries it: unchanged when it fits in `room` characters and
/// holds no `;`, `=` or whitespace; else a legal prefix of it, `~` and 8 hex digits of its hash.
pub fn request_ref(request: &str, room: usize) -> String {
    let plain = |c: char| !c.is_whitespace() && c != ';' && c != '=' && c != '~';
    if request.len() <= room && !request.is_empty() && request.chars().all(plain) {
        return request.to_string();
    }
    let suffix = format!("~{}", short_hash(request));
    let mut out = String::new();
    for c in request.chars().map(|c| if plain(c) { c } else { '_' }) {
        if out.len() + c.len_utf8() + suffix.len() > room {
            break;
        }
        out.push(c);
    }
    out.push_str(&suffix);
    out
}

/// The room a request id has inside a grant description expiring at `expires`.
pub fn request_room(expires: Timestamp) -> usize {
    MAX_DESCRIPTION_LEN - format!("{MANAGED_MARKER}; request=; expires={expires}").len()
}

/// Whether a managed rule's `request=` field names `grant`.
pub fn refers_to(field: &str, grant: &Grant) -> bool {
    field == grant.id || field == request_ref(&grant.id, request_room(grant.end()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::SignedDuration;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn legal_names_are_kept() {
        assert_eq!(rule_name("jit-deny-web-1-ssh"), "jit-deny-web-1-ssh");
        assert_eq!(rule_name("a_"), "a_");
        assert_eq!(rule_name("x.y-z"), "x.y-z");
    }

    #[test]
    fn illegal_characters_are_replaced_and_hashed() {
        let name = rule_name("jit-allow-INC 42/alice-ssh");
        assert!(name.starts_with("jit-allow-INC-42-alice-ssh-"), "{name}");
        assert!(is_legal_rule_name(&name));
        assert_ne!(name, rule_name("jit-allow-INC-42-alice-ssh"));
        assert_ne!(name, rule_name("jit-allow-INC/42 alice-ssh"));
    }

    #[test]
    fn bad_first_and_last_characters_are_fixed() {
        let name = rule_name("-x-");
        assert!(name.starts_with("_x--"), "{name}");
        assert!(is_legal_rule_name(&name));
        assert!(is_legal_rule_name(&rule_name("x.")));
        assert!(is_legal_rule_name(&rule_name("")));
        assert!(is_legal_rule_name(&rule_name("é")));
    }

    #[test]
    fn long_names_are_truncated_with_a_stable_hash() {
        let raw = format!("jit-allow-{}-ssh", "r".repeat(100));
        let name = rule_name(&raw);
        assert_eq!(name.len(), MAX_NAME_LEN);
        assert!(is_legal_rule_name(&name));
        assert_eq!(name, rule_name(&raw));
        assert_eq!(&name[71..], &format!("-{}", short_hash(&raw)));
        let other = rule_name(&format!("jit-allow-{}-rdp", "r".repeat(100)));
        assert_ne!(name, other);
        assert_eq!(rule_name(&"a".repeat(80)), "a".repeat(80));
    }

    #[test]
    fn descriptions_fit_in_140_characters() {
        let expires = ts("2026-11-25T16:00:00.123456789Z");
        let short = grant_description("INC-1", expires);
        assert_eq!(
            short,
            "managed-by=jit; request=INC-1; expires=2026-11-25T16:00:00.123456789Z"
        );
        let long_id = "x".repeat(200);
        let long = grant_description(&long_id, expires);
        assert_eq!(long.len(), MAX_DESCRIPTION_LEN);
        let field = long.split("; ").nth(1).unwrap();
        assert!(field.starts_with("request=xxx") && field.contains('~'));
        let grant = Grant {
            id: long_id,
            target: "t".into(),
            ports: vec![],
            source: "10.0.0.0/8".parse().unwrap(),
            requester: "r".into(),
            approvers: vec![],
            justification: "j".into(),
            start: ts("2026-11-25T14:00:00.123456789Z"),
            duration: SignedDuration::from_hours(2),
        };
        assert!(refers_to(&field["request=".len()..], &grant));
        let odd = grant_description("a;b=c", expires);
        assert!(!odd.contains("a;b"), "{odd}");
    }
}
