//! The verifier against signatures made in-process with fixed keys: every refusal kind, and a
//! counted approval.

use jiff::SignedDuration;
use ssh_key::private::Ed25519Keypair;
use ssh_key::{HashAlg, LineEnding, PrivateKey};

use super::signers::{self, Signer};
use super::verify::{verify, Refusal};
use super::{Subject, NAMESPACE};
use crate::model::Protocol;

fn key(seed: u8) -> PrivateKey {
    PrivateKey::from(Ed25519Keypair::from_seed(&[seed; 32]))
}

fn public(seed: u8) -> String {
    key(seed).public_key().to_openssh().unwrap()
}

fn subject() -> Subject {
    Subject {
        id: "INC-1-alice".into(),
        target: "web-1".into(),
        ports: vec![(22, Protocol::Tcp)],
        source: "198.51.100.7/32".parse().unwrap(),
        start: "2026-11-25T14:00:00Z".parse().unwrap(),
        duration: SignedDuration::from_hours(2),
        requester: "alice@example.com".into(),
        justification: "INC-1 deploy".into(),
    }
}

fn sign(seed: u8, namespace: &str, message: &str) -> String {
    key(seed)
        .sign(namespace, HashAlg::Sha512, message.as_bytes())
        .unwrap()
        .to_pem(LineEnding::LF)
        .unwrap()
}

/// alice = key 1, bob = key 2, carol = key 3 (valid in 2027 only), dave = key 4 (git only).
fn file() -> Vec<Signer> {
    let text = format!(
        "alice@example.com {}\nbob@example.com {}\ncarol@example.com valid-after=\"20270101Z\" {}\ndave@example.com namespaces=\"git\" {}\n",
        public(1),
        public(2),
        public(3),
        public(4)
    );
    let (signers, errors) = signers::parse(&text);
    assert!(errors.is_empty(), "{errors:?}");
    signers
}

fn refusal(by: &str, signature: &str) -> Refusal {
    verify(&file(), by, signature, &subject()).unwrap_err().kind
}

#[test]
fn a_listed_key_over_the_current_message_counts() {
    let sig = sign(2, NAMESPACE, &subject().message());
    let ok = verify(&file(), "bob@example.com", &sig, &subject()).unwrap();
    assert_eq!(ok.principal, "bob@example.com");
    assert!(ok.fingerprint.starts_with("SHA256:"));
    // Indented as in a heredoc, it still parses.
    let indented = sig
        .lines()
        .map(|l| format!("    {l}\n"))
        .collect::<String>();
    assert!(verify(&file(), "bob@example.com", &indented, &subject()).is_ok());
}

#[test]
fn every_forgery_is_refused() {
    let message = subject().message();
    // The requester's own key, under another name or their own.
    assert_eq!(
        refusal("bob@example.com", &sign(1, NAMESPACE, &message)),
        Refusal::SelfApproval
    );
    assert_eq!(
        refusal("alice@example.com", &sign(1, NAMESPACE, &message)),
        Refusal::SelfApproval
    );
    assert_eq!(
        refusal("\u{430}lice@example.com", &sign(2, NAMESPACE, &message)),
        Refusal::SelfApproval
    );
    // A key not in the file; a principal not in the file.
    assert_eq!(
        refusal("bob@example.com", &sign(9, NAMESPACE, &message)),
        Refusal::NotAllowed
    );
    assert_eq!(
        refusal("eve@example.com", &sign(2, NAMESPACE, &message)),
        Refusal::NotAllowed
    );
    // Another namespace, in the signature or in the file.
    assert_eq!(
        refusal("bob@example.com", &sign(2, "git", &message)),
        Refusal::Malformed
    );
    assert_eq!(
        refusal("dave@example.com", &sign(4, NAMESPACE, &message)),
        Refusal::NotAllowed
    );
    // An older version of the request.
    let mut older = subject();
    older.duration = SignedDuration::from_hours(1);
    assert_eq!(
        refusal("bob@example.com", &sign(2, NAMESPACE, &older.message())),
        Refusal::Changed
    );
    // Outside the validity window.
    assert_eq!(
        refusal("carol@example.com", &sign(3, NAMESPACE, &message)),
        Refusal::OutsideWindow
    );
    // Not a signature at all; a signature with a flipped byte.
    assert_eq!(refusal("bob@example.com", "hello"), Refusal::Malformed);
    let sig = sign(2, NAMESPACE, &message);
    let mut lines = sig.lines().map(str::to_string).collect::<Vec<_>>();
    let last = lines.len() - 2;
    let flipped = lines[last].chars().rev().collect::<String>();
    lines[last] = flipped;
    let kind = refusal("bob@example.com", &lines.join("\n"));
    assert!(
        matches!(kind, Refusal::Malformed | Refusal::Changed),
        "{kind:?}"
    );
}
