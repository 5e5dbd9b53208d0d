//! People's names (requesters, approvers, allowed_signers principals): which names are
//! refused, and when two names are the same person. Pure.
//!
//! A name is refused when it holds a control character, a zero-width or other default-ignorable
//! character, a bidi control, or a line or paragraph separator, or when a part of it (the pieces
//! between `@` and `.`) mixes scripts, as a Cyrillic `а` in `аlice` does (Unicode TS 39
//! mixed-script detection; `Common` characters such as digits mix with any script).
//!
//! Two names are the same person when their [`key`]s are equal: Unicode NFKC, then lowercase,
//! then NFKC again, then the TS 39 confusable skeleton. `Alice@Example.com`, `ａlice@example.com`
//! (fullwidth) and `\u{430}lice@example.com` (Cyrillic) all have the key of
//! `alice@example.com`. Skeletons err on the side of "same": `bob1` and `bobl` are one person.

use unicode_normalization::UnicodeNormalization;
use unicode_security::general_security_profile::IdentifierType;
use unicode_security::{GeneralSecurityProfile, MixedScript};

/// Why a name is refused, as a lowercase phrase naming the offending character.
pub fn check(name: &str) -> Result<(), String> {
    for c in name.chars() {
        if let Some(what) = invisible(c) {
            return Err(format!("holds {what} U+{:04X}", c as u32));
        }
    }
    for part in name.split(['@', '.']) {
        if !part.is_single_script() {
            return Err(format!("mixes scripts in `{part}`"));
        }
    }
    Ok(())
}

/// What kind of character `c` is when it must not appear in a name.
fn invisible(c: char) -> Option<&'static str> {
    match c {
        '\u{200E}'
        | '\u{200F}'
        | '\u{061C}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2066}'..='\u{2069}' => Some("the bidi control"),
        '\u{2028}' | '\u{2029}' => Some("the line separator"),
        c if c.is_control() => Some("the control character"),
        '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}' => {
            Some("the zero-width character")
        }
        c if c.identifier_type() == Some(IdentifierType::Default_Ignorable) => {
            Some("the invisible character")
        }
        _ => None,
    }
}

/// NFKC and lowercase: the form principals are matched in (allowed_signers patterns).
pub fn fold(name: &str) -> String {
    let lower = name.trim().nfkc().collect::<String>().to_lowercase();
    lower.nfkc().collect()
}

/// The comparison key: two names are one person when their keys are equal.
pub fn key(name: &str) -> String {
    unicode_security::skeleton(&fold(name)).collect()
}

/// Whether `a` and `b` name one person.
pub fn same(a: &str, b: &str) -> bool {
    key(a) == key(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_pass() {
        for name in [
            "alice@example.com",
            "Bob Smith",
            "алиса@пример.рф",
            "алиса@example.com",
            "ops-2@example.com",
        ] {
            assert_eq!(check(name), Ok(()), "{name}");
        }
    }

    #[test]
    fn invisible_and_bidi_characters_are_refused() {
        assert_eq!(
            check("bob@example.com\u{200b}").unwrap_err(),
            "holds the zero-width character U+200B"
        );
        assert!(check("bob\u{202e}moc.elpmaxe@")
            .unwrap_err()
            .contains("bidi"));
        assert!(check("bob\u{2066}x").unwrap_err().contains("bidi"));
        assert!(check("bob\u{7}").unwrap_err().contains("control"));
        assert!(check("bob\nmallory").unwrap_err().contains("control"));
        assert!(check("bo\u{ad}b").unwrap_err().contains("invisible"));
        assert!(check("bob\u{2028}").unwrap_err().contains("separator"));
    }

    #[test]
    fn mixed_scripts_are_refused() {
        assert_eq!(
            check("\u{430}lice@example.com").unwrap_err(),
            "mixes scripts in `\u{430}lice`"
        );
        assert!(check("alice@ex\u{430}mple.com").is_err());
    }

    #[test]
    fn confusables_case_and_width_are_one_person() {
        assert!(same("alice@example.com", "\u{430}lice@example.com"));
        assert!(same("alice@example.com", "ALICE@example.com"));
        assert!(same("alice@example.com", "\u{ff41}lice@example.com"));
        assert!(same(" alice@example.com", "alice@example.com"));
        assert!(!same("alice@example.com", "bob@example.com"));
    }
}
