//! The commands jit prints as next steps ("To perform exactly these actions, run: …"), exact
//! enough to paste: `-C DIR` kept when the config directory is not `.`, each word quoted for a
//! POSIX shell where it needs it. Pure.

use std::path::Path;

/// `jit [-C DIR] ARGS…` for the config directory `dir`.
pub fn command(dir: &Path, args: &[&str]) -> String {
    let mut words = vec!["jit".to_string()];
    let dir = dir.to_string_lossy();
    if dir != "." && dir != "./" {
        words.push("-C".into());
        words.push(shell_word(&dir));
    }
    words.extend(args.iter().map(|a| shell_word(a)));
    words.join(" ")
}

/// `word` as a POSIX shell reads it back: bare when it is only safe characters, else in single
/// quotes.
pub fn shell_word(word: &str) -> String {
    let safe = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@+,%".contains(c));
    if safe {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_keep_the_directory_and_quote_what_needs_it() {
        assert_eq!(command(Path::new("."), &["plan"]), "jit plan");
        assert_eq!(
            command(
                Path::new("qs"),
                &["apply", "p.json", "--at", "2026-11-25T14:37:00Z"]
            ),
            "jit -C qs apply p.json --at 2026-11-25T14:37:00Z"
        );
        assert_eq!(
            command(Path::new("my config"), &["approve", "INC-1"]),
            "jit -C 'my config' approve INC-1"
        );
        assert_eq!(shell_word("it's"), "'it'\\''s'");
        assert_eq!(shell_word(""), "''");
        assert_eq!(shell_word("$HOME"), "'$HOME'");
    }
}
