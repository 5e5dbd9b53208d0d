//! The OpenSSH allowed_signers file (ssh-keygen(1), ALLOWED SIGNERS): who may sign, with
//! which key, for which namespaces, when. Parsed from text; reading the file is `ops`'s job.
//! Pure.
//!
//! Each line is `principals [options] keytype base64-key [comment]`; blank lines and lines
//! starting with `#` are skipped. `principals` is a comma-separated list of patterns (`*` and
//! `?` wildcards, `!` negates), quoted when it holds spaces. Options, comma-separated:
//! `namespaces="<patterns>"`, `valid-after="<time>"`, `valid-before="<time>"`, where a time is
//! `YYYYMMDD`, `YYYYMMDDHHMM` or `YYYYMMDDHHMMSS` followed by `Z`. Refused, each with a clear
//! error: `cert-authority` (jit verifies plain keys, not certificates), times without `Z`
//! (ssh-keygen reads them in the machine's local time zone, which a policy check must not
//! depend on), unknown options, and keys that do not parse.

use jiff::Timestamp;
use ssh_key::public::KeyData;
use ssh_key::PublicKey;

use super::names;

/// One usable line of the file.
#[derive(Debug, Clone)]
pub struct Signer {
    /// 1-based line in the file.
    pub line: usize,
    /// Patterns, folded with [`names::fold`]; `!` kept at the front of negated ones.
    pub principals: Vec<String>,
    /// Patterns of namespaces; `None`: every namespace.
    pub namespaces: Option<Vec<String>>,
    pub valid_after: Option<Timestamp>,
    pub valid_before: Option<Timestamp>,
    pub key: PublicKey,
}

impl Signer {
    /// Whether the principal patterns match `name` (as ssh's `match_pattern_list`: a matching
    /// negated pattern wins over any other).
    pub fn names(&self, name: &str) -> bool {
        match_list(&names::fold(name), &self.principals)
    }

    /// Whether the line allows signatures in `namespace`.
    pub fn allows_namespace(&self, namespace: &str) -> bool {
        self.namespaces
            .as_ref()
            .is_none_or(|patterns| match_list(namespace, patterns))
    }

    /// Whether `at` lies in the line's validity window (`valid-after <= at <= valid-before`).
    pub fn valid_at(&self, at: Timestamp) -> bool {
        self.valid_after.is_none_or(|after| at >= after)
            && self.valid_before.is_none_or(|before| at <= before)
    }

    pub fn key_data(&self) -> &KeyData {
        self.key.key_data()
    }
}

/// A problem on one line: byte offset and length within the file's text, message, hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub line: usize,
    pub column: usize,
    pub offset: usize,
    pub len: usize,
    pub message: String,
    pub hint: Option<String>,
}

/// The usable lines, and a problem for each line that is not.
pub fn parse(text: &str) -> (Vec<Signer>, Vec<LineError>) {
    let mut signers = Vec::new();
    let mut errors = Vec::new();
    let mut offset = 0;
    for (index, raw) in text.split_inclusive('\n').enumerate() {
        let line_start = offset;
        offset += raw.len();
        let line = raw.trim_end_matches(['\n', '\r']);
        let body = line.trim_start();
        if body.is_empty() || body.starts_with('#') {
            continue;
        }
        let lead = line.len() - body.len();
        match parse_line(body) {
            Ok(mut signer) => {
                signer.line = index + 1;
                signers.push(signer);
            }
            Err(bad) => {
                let at = lead + bad.at.min(body.len());
                let column = line[..at].chars().count() + 1;
                errors.push(LineError {
                    line: index + 1,
                    column,
                    offset: line_start + at,
                    len: bad.len.min(body.len().saturating_sub(bad.at)).max(1),
                    message: bad.message,
                    hint: bad.hint,
                });
            }
        }
    }
    (signers, errors)
}

struct Bad {
    at: usize,
    len: usize,
    message: String,
    hint: Option<String>,
}

fn bad(at: usize, len: usize, message: impl Into<String>, hint: Option<&str>) -> Bad {
    Bad {
        at,
        len,
        message: message.into(),
        hint: hint.map(str::to_string),
    }
}

/// The next whitespace-delimited token from `at`, where double quotes group (quotes kept).
fn token(s: &str, at: usize) -> Result<(usize, usize), Bad> {
    let rest = &s[at..];
    let skipped = rest.len() - rest.trim_start().len();
    let start = at + skipped;
    let mut quoted = false;
    for (i, c) in s[start..].char_indices() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => return Ok((start, start + i)),
            _ => {}
        }
    }
    if quoted {
        return Err(bad(start, s.len() - start, "unterminated quote", None));
    }
    Ok((start, s.len()))
}

fn parse_line(line: &str) -> Result<Signer, Bad> {
    let (p0, p1) = token(line, 0)?;
    let principals_text = line[p0..p1].trim_matches('"');
    let mut principals = Vec::new();
    for pattern in principals_text.split(',') {
        let bare = pattern.strip_prefix('!').unwrap_or(pattern);
        if bare.trim().is_empty() {
            return Err(bad(p0, p1 - p0, "empty principal", Some("list principals separated by commas, such as `alice@example.com,bob@example.com`")));
        }
        if let Err(why) = names::check(bare) {
            return Err(bad(
                p0,
                p1 - p0,
                format!("principal `{}` {why}", bare.escape_debug()),
                None,
            ));
        }
        let negated = if pattern.starts_with('!') { "!" } else { "" };
        principals.push(format!("{negated}{}", names::fold(bare)));
    }
    let (mut k0, mut k1) = token(line, p1)?;
    if k0 == k1 {
        return Err(bad(
            p0,
            p1 - p0,
            "no key after the principals",
            Some("write `principals [options] keytype base64-key`"),
        ));
    }
    let mut signer = Signer {
        line: 0,
        principals,
        namespaces: None,
        valid_after: None,
        valid_before: None,
        key: PublicKey::new(
            KeyData::Ed25519(ssh_key::public::Ed25519PublicKey([0; 32])),
            "",
        ),
    };
    if !is_key_type(&line[k0..k1]) {
        options(&line[k0..k1], k0, &mut signer)?;
        (k0, k1) = token(line, k1)?;
        if k0 == k1 {
            return Err(bad(
                p0,
                line.len() - p0,
                "no key after the options",
                Some("write `principals [options] keytype base64-key`"),
            ));
        }
    }
    let key_type = &line[k0..k1];
    let (b0, b1) = token(line, k1)?;
    if b0 == b1 {
        return Err(bad(
            k0,
            k1 - k0,
            format!("key type `{key_type}` has no key after it"),
            None,
        ));
    }
    let encoded = format!("{key_type} {}", &line[b0..b1]);
    signer.key = PublicKey::from_openssh(&encoded).map_err(|err| {
        bad(
            k0,
            b1 - k0,
            format!("the key does not parse ({err})"),
            Some("copy the line from the signer's `.pub` file: `ssh-ed25519 AAAA…`"),
        )
    })?;
    if !supported(&signer.key.algorithm()) {
        return Err(bad(
            k0,
            k1 - k0,
            format!("key type `{key_type}` is not supported"),
            Some(
                "jit verifies ssh-ed25519, ecdsa-sha2-nistp256, ssh-rsa and their sk- (FIDO) forms",
            ),
        ));
    }
    Ok(signer)
}

/// The key algorithms jit can verify signatures of.
fn supported(algorithm: &ssh_key::Algorithm) -> bool {
    use ssh_key::{Algorithm, EcdsaCurve};
    matches!(
        algorithm,
        Algorithm::Ed25519
            | Algorithm::SkEd25519
            | Algorithm::SkEcdsaSha2NistP256
            | Algorithm::Rsa { .. }
            | Algorithm::Ecdsa {
                curve: EcdsaCurve::NistP256
            }
    )
}

fn is_key_type(token: &str) -> bool {
    token.starts_with("ssh-")
        || token.starts_with("ecdsa-sha2-")
        || token.starts_with("sk-ssh-")
        || token.starts_with("sk-ecdsa-")
}

/// The options token, `name[="value"]` items separated by commas outside quotes.
fn options(text: &str, base: usize, signer: &mut Signer) -> Result<(), Bad> {
    let mut items = Vec::new();
    let mut quoted = false;
    let mut from = 0;
    for (i, c) in text.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                items.push((from, &text[from..i]));
                from = i + 1;
            }
            _ => {}
        }
    }
    items.push((from, &text[from..]));
    for (at, item) in items {
        let at = base + at;
        let (name, value) = match item.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (item, None),
        };
        let quoted_value = || -> Result<&str, Bad> {
            let value = value.unwrap_or_default();
            value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .ok_or_else(|| {
                    bad(
                        at,
                        item.len(),
                        format!("`{name}` needs a quoted value"),
                        Some("write `namespaces=\"jit-approval\"`"),
                    )
                })
        };
        match name.to_ascii_lowercase().as_str() {
            "cert-authority" => {
                return Err(bad(
                    at,
                    item.len(),
                    "`cert-authority` is not supported",
                    Some("jit verifies signatures by plain keys; list each approver's public key instead of a certificate authority"),
                ))
            }
            "namespaces" => {
                let list = quoted_value()?;
                signer.namespaces = Some(list.split(',').map(|n| n.trim().to_string()).collect());
            }
            "valid-after" | "valid-before" => {
                let value = quoted_value()?;
                let time = time(value).map_err(|why| bad(at, item.len(), format!("`{name}` `{value}` {why}"), Some("write a UTC time such as `valid-before=\"20270101Z\"` or `\"20270101120000Z\"`")))?;
                if name.eq_ignore_ascii_case("valid-after") {
                    signer.valid_after = Some(time);
                } else {
                    signer.valid_before = Some(time);
                }
            }
            _ => {
                return Err(bad(
                    at,
                    item.len(),
                    format!("unknown option `{name}`"),
                    Some("options are `namespaces=\"…\"`, `valid-after=\"…\"` and `valid-before=\"…\"`"),
                ))
            }
        }
    }
    Ok(())
}

/// `YYYYMMDD[HHMM[SS]]Z`.
fn time(value: &str) -> Result<Timestamp, String> {
    let Some(digits) = value.strip_suffix(['Z', 'z']) else {
        return Err("has no `Z`: jit reads these times in UTC only".to_string());
    };
    if !digits.bytes().all(|b| b.is_ascii_digit()) || ![8, 12, 14].contains(&digits.len()) {
        return Err("is not `YYYYMMDD`, `YYYYMMDDHHMM` or `YYYYMMDDHHMMSS`".to_string());
    }
    let part = |r: std::ops::Range<usize>| digits.get(r).unwrap_or("00");
    let text = format!(
        "{}-{}-{}T{}:{}:{}Z",
        part(0..4),
        part(4..6),
        part(6..8),
        part(8..10),
        part(10..12),
        part(12..14)
    );
    text.parse::<Timestamp>()
        .map_err(|_| "is not a valid date and time".to_string())
}

/// ssh's `match_pattern_list`: `*` and `?` wildcards; a matching `!pattern` means no match.
fn match_list(value: &str, patterns: &[String]) -> bool {
    let mut matched = false;
    for pattern in patterns {
        match pattern.strip_prefix('!') {
            Some(negated) if glob(value.as_bytes(), negated.as_bytes()) => return false,
            Some(_) => {}
            None if glob(value.as_bytes(), pattern.as_bytes()) => matched = true,
            None => {}
        }
    }
    matched
}

fn glob(value: &[u8], pattern: &[u8]) -> bool {
    let (mut v, mut p) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while v < value.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, v));
                p += 1;
            }
            Some(&c) if c == b'?' || c == value[v] => {
                // `?` matches one character, not one byte.
                if c == b'?' {
                    v += utf8_len(value[v]);
                } else {
                    v += 1;
                }
                p += 1;
            }
            _ => match star {
                Some((sp, sv)) => {
                    p = sp + 1;
                    let next = sv + utf8_len(value[sv]);
                    star = Some((sp, next));
                    v = next;
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

fn utf8_len(first: u8) -> usize {
    match first {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKNYY3Dg8qE342YK5V5OKhFh9q+GUKIeP4bSpk/lR/GA";

    #[test]
    fn lines_with_options_and_comments() {
        let text = format!(
            "# approvers\n\nbob@example.com {KEY} bob's laptop\n\
             \"carol@example.com,*@ops.example.com\" namespaces=\"jit-approval,git\",valid-after=\"20260101Z\",valid-before=\"202701011200Z\" {KEY}\n"
        );
        let (signers, errors) = parse(&text);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(signers.len(), 2);
        assert_eq!(signers[0].line, 3);
        assert!(signers[0].names("Bob@Example.com"));
        assert!(signers[0].allows_namespace("jit-approval"));
        let s = &signers[1];
        assert!(s.names("carol@example.com") && s.names("dave@ops.example.com"));
        assert!(!s.names("dave@example.com"));
        assert!(s.allows_namespace("git") && !s.allows_namespace("file"));
        assert_eq!(s.valid_after, Some("2026-01-01T00:00:00Z".parse().unwrap()));
        assert_eq!(
            s.valid_before,
            Some("2027-01-01T12:00:00Z".parse().unwrap())
        );
        assert!(s.valid_at("2026-06-01T00:00:00Z".parse().unwrap()));
        assert!(!s.valid_at("2025-12-31T23:59:59Z".parse().unwrap()));
        assert!(!s.valid_at("2027-01-01T12:00:01Z".parse().unwrap()));
    }

    #[test]
    fn unsupported_key_types_are_refused_at_their_line() {
        // A valid nistp384 public key (from ssh-keygen -t ecdsa -b 384).
        let p384 = "ecdsa-sha2-nistp384 AAAAE2VjZHNhLXNoYTItbmlzdHAzODQAAAAIbmlzdHAzODQAAABhBHdAjVYzTaAYuvuJ8YhCAYreMuWlr18BxMJnwRYxkFFvwuYd2OwhIOcTJY3fQ9B0XRtlEDHb/VTtMNr6LvjGX/Npk7bS6ty4TBy4o9K6tBK7up+k8jfTP1zLTWQ/nIAW4g==";
        let (signers, errors) = parse(&format!("bob@example.com {p384}\n"));
        assert!(signers.is_empty());
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(
            errors[0].message,
            "key type `ecdsa-sha2-nistp384` is not supported"
        );
    }

    #[test]
    fn negated_patterns_win() {
        let (signers, _) = parse(&format!("*@example.com,!mallory@example.com {KEY}\n"));
        assert!(signers[0].names("bob@example.com"));
        assert!(!signers[0].names("mallory@example.com"));
        assert!(!signers[0].names("bob@example.org"));
    }

    #[test]
    fn wildcards() {
        assert!(glob(b"bob@example.com", b"b?b@*.com"));
        assert!(glob("bøb".as_bytes(), "b?b".as_bytes()));
        assert!(!glob(b"bob", b"b?"));
        assert!(glob(b"", b"*"));
    }

    #[test]
    fn unsupported_and_broken_lines_are_errors_at_their_line() {
        let text = format!(
            "ok@example.com {KEY}\n\
             ca@example.com cert-authority {KEY}\n\
             t@example.com valid-before=\"20270101\" {KEY}\n\
             u@example.com restrict {KEY}\n\
             v@example.com ssh-ed25519 AAAAnotakey\n\
             w@example.com\n\
             \u{430}lice@example.com {KEY}\n"
        );
        let (signers, errors) = parse(&text);
        assert_eq!(signers.len(), 1);
        let lines = errors.iter().map(|e| e.line).collect::<Vec<_>>();
        assert_eq!(lines, [2, 3, 4, 5, 6, 7]);
        assert!(errors[0]
            .message
            .contains("`cert-authority` is not supported"));
        assert_eq!(errors[0].column, 16);
        assert!(errors[1].message.contains("has no `Z`"));
        assert!(errors[2].message.contains("unknown option `restrict`"));
        assert!(errors[3].message.contains("does not parse"));
        assert!(errors[4].message.contains("no key"));
        assert!(errors[5].message.contains("mixes scripts"));
        let line2 = text.lines().nth(1).unwrap();
        assert_eq!(
            &text[errors[0].offset..errors[0].offset + errors[0].len],
            &line2[15..29]
        );
    }
}

#[cfg(test)]
mod props {
    use proptest::prelude::*;

    proptest! {
        /// Any text parses without a panic, and every error points inside its line.
        #[test]
        fn any_text_is_lines_or_errors(text in "(\\PC|[ \\t\\n\",=!*?#]){0,200}") {
            let (_, errors) = super::parse(&text);
            for e in errors {
                prop_assert!(e.offset <= text.len());
                prop_assert!(text.is_char_boundary(e.offset));
                prop_assert!(e.line >= 1 && e.column >= 1);
            }
        }

        #[test]
        fn glob_never_panics(value in "\\PC{0,20}", pattern in "[a-z*?é]{0,10}") {
            let _ = super::glob(value.as_bytes(), pattern.as_bytes());
        }
    }
}
