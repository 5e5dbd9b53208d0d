//! Checking one approval: an SSHSIG signature, by the principal it names, over a request's
//! canonical message, against the allowed_signers lines. Pure: no clock — a line's
//! `valid-after`/`valid-before` window is compared with the request's start, the moment the
//! access it approves begins.

use ssh_key::{HashAlg, SshSig};

use super::message::{Subject, NAMESPACE};
use super::names;
use super::signers::Signer;

/// Why an approval does not count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The signature is not SSHSIG PEM armour, or is for another namespace.
    Malformed,
    /// No allowed_signers line names the principal, or none lists this key for it (in the
    /// `jit-approval` namespace).
    NotAllowed,
    /// The principal's line is not valid at the request's start.
    OutsideWindow,
    /// The signature does not verify over the request as it is now.
    Changed,
    /// The signer is the requester, or the key is one the file lists for the requester.
    SelfApproval,
}

/// A refused approval: the kind, a lowercase message and a hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub kind: Refusal,
    pub message: String,
    pub hint: Option<String>,
}

fn refuse(kind: Refusal, message: String, hint: impl Into<Option<String>>) -> Refused {
    Refused {
        kind,
        message,
        hint: hint.into(),
    }
}

/// A counted approval: who, and the fingerprint (`SHA256:…`) of the key that signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub principal: String,
    pub fingerprint: String,
}

/// The SSHSIG armour inside `text`, whatever its indentation: lines trimmed, blank lines
/// dropped.
pub fn parse_signature(text: &str) -> Result<SshSig, String> {
    let mut pem = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    pem.push('\n');
    if !pem.starts_with("-----BEGIN SSH SIGNATURE-----") {
        return Err("does not start with `-----BEGIN SSH SIGNATURE-----`".to_string());
    }
    SshSig::from_pem(&pem).map_err(|err| format!("is not a valid SSH signature ({err})"))
}

/// Checks the approval of `subject` by `by` with `signature` (PEM text).
pub fn verify(
    signers: &[Signer],
    by: &str,
    signature: &str,
    subject: &Subject,
) -> Result<Verified, Refused> {
    let sig = parse_signature(signature).map_err(|why| {
        refuse(
            Refusal::Malformed,
            format!("the signature {why}"),
            "paste the whole output of `ssh-keygen -Y sign -n jit-approval`, or run `jit approve`"
                .to_string(),
        )
    })?;
    if sig.namespace() != NAMESPACE {
        return Err(refuse(
            Refusal::Malformed,
            format!(
                "the signature is for namespace `{}`, not `{NAMESPACE}`",
                sig.namespace().escape_debug()
            ),
            format!("sign with `ssh-keygen -Y sign -n {NAMESPACE}`, or run `jit approve`"),
        ));
    }
    let fingerprint = ssh_key::Fingerprint::new(HashAlg::Sha256, sig.public_key()).to_string();
    let requester = &subject.requester;
    if names::same(by, requester) {
        return Err(refuse(
            Refusal::SelfApproval,
            format!("requester `{requester}` cannot approve their own request"),
            "ask someone else to review and approve it".to_string(),
        ));
    }
    let in_namespace = |s: &&Signer| s.allows_namespace(NAMESPACE);
    if let Some(own) = signers
        .iter()
        .filter(in_namespace)
        .find(|s| s.names(requester) && s.key_data() == sig.public_key())
    {
        return Err(refuse(
            Refusal::SelfApproval,
            format!(
                "signed with key {fingerprint}, which allowed_signers lists for the requester `{requester}`"
            ),
            format!(
                "line {} of allowed_signers; the requester's own key never counts",
                own.line
            ),
        ));
    }
    let named = signers.iter().filter(|s| s.names(by)).collect::<Vec<_>>();
    if named.is_empty() {
        return Err(refuse(
            Refusal::NotAllowed,
            format!("principal `{by}` is not in allowed_signers"),
            "add a line for them to the allowed_signers file (through review)".to_string(),
        ));
    }
    let keyed = named
        .iter()
        .filter(|s| s.key_data() == sig.public_key())
        .collect::<Vec<_>>();
    if keyed.is_empty() {
        return Err(refuse(
            Refusal::NotAllowed,
            format!("key {fingerprint} is not listed for `{by}` in allowed_signers"),
            format!(
                "`{by}` is listed at line{} {}",
                if named.len() == 1 { "" } else { "s" },
                lines(named.iter().copied())
            ),
        ));
    }
    let usable = keyed.iter().filter(|s| in_namespace(s)).collect::<Vec<_>>();
    if usable.is_empty() {
        return Err(refuse(
            Refusal::NotAllowed,
            format!("key {fingerprint} of `{by}` is not allowed for namespace `{NAMESPACE}`"),
            format!(
                "add `{NAMESPACE}` to `namespaces=` at line {} of allowed_signers",
                lines(keyed.iter().map(|s| **s))
            ),
        ));
    }
    if !usable.iter().any(|s| s.valid_at(subject.start)) {
        let window = usable
            .iter()
            .map(|s| {
                let after = s.valid_after.map(|t| format!("after {t}"));
                let before = s.valid_before.map(|t| format!("before {t}"));
                format!(
                    "line {}: valid {}",
                    s.line,
                    [after, before]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(" and ")
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        return Err(refuse(
            Refusal::OutsideWindow,
            format!(
                "`{by}` may not sign for a request starting at {}",
                subject.start
            ),
            format!("allowed_signers {window}; the window is compared with the request's start"),
        ));
    }
    let key = ssh_key::PublicKey::new(sig.public_key().clone(), "");
    key.verify(NAMESPACE, subject.message().as_bytes(), &sig)
        .map_err(|_| {
            refuse(
                Refusal::Changed,
                format!(
                    "the signature by `{by}` does not match request `{}` as it is now",
                    subject.id
                ),
                format!(
                    "the request changed since it was signed (or the signature was altered); ask for a new approval with `jit approve {}`",
                    subject.id
                ),
            )
        })?;
    Ok(Verified {
        principal: by.to_string(),
        fingerprint,
    })
}

fn lines<'s>(signers: impl Iterator<Item = &'s Signer>) -> String {
    signers
        .map(|s| s.line.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
