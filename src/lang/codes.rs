//! Stable diagnostic codes of the jit language, one line each. Codes never change meaning; a
//! retired code is not reused. docs/diagnostics.md explains each with an example.

// Syntax.
/// HCL syntax error, with the parser's own position.
pub const SYNTAX: &str = "E001";
/// A quoted string is never closed before the end of the file.
pub const UNTERMINATED_STRING: &str = "E002";
/// A quoted string runs past the end of its line.
pub const NEWLINE_IN_STRING: &str = "E003";
/// The same attribute is set twice in one block.
pub const DUPLICATE_ATTRIBUTE: &str = "E004";
/// A value that must be quoted is written bare (e.g. `source = 10.0.0.0/8`).
pub const UNQUOTED_VALUE: &str = "E005";
/// The file is not valid UTF-8.
pub const NOT_UTF8: &str = "E006";
/// A block is opened with `{` and never closed.
pub const UNCLOSED_BLOCK: &str = "E007";

// Structure.
/// A top-level block type other than settings, provider, target, request or accept.
pub const UNKNOWN_BLOCK: &str = "E010";
/// A block has the wrong number of labels.
pub const BLOCK_LABELS: &str = "E011";
/// An attribute the block does not take.
pub const UNKNOWN_ATTRIBUTE: &str = "E012";
/// A required attribute is missing.
pub const MISSING_ATTRIBUTE: &str = "E013";
/// A value of the wrong type (a string where a number is expected, …).
pub const WRONG_TYPE: &str = "E014";
/// An expression jit does not evaluate (interpolation, function call, variable, heredoc, …).
pub const UNSUPPORTED_EXPRESSION: &str = "E015";
/// More than one `settings` block.
pub const DUPLICATE_SETTINGS: &str = "E016";
/// Two providers, targets, ports of one target, or requests with the same name.
pub const DUPLICATE_NAME: &str = "E017";
/// A block label that is not a valid name.
pub const INVALID_NAME: &str = "E018";
/// A nested block where none is allowed, or an attribute at the top level.
pub const UNEXPECTED_STRUCTURE: &str = "E019";

// Values.
/// A malformed CIDR or IP address.
pub const INVALID_CIDR: &str = "E020";
/// A duration in none of the documented forms (`90m`, `3h`, `1h30m`, `1d`, `PT3H`, `P1D`).
pub const INVALID_DURATION: &str = "E021";
/// A malformed RFC 3339 time, or one without a UTC offset.
pub const INVALID_TIME: &str = "E022";
/// A port number outside 1–65535.
pub const PORT_RANGE: &str = "E023";
/// A protocol other than `tcp`, `udp` or `any` (lower case).
pub const INVALID_PROTOCOL: &str = "E024";
/// A `max_duration` outside 5 minutes–24 hours.
pub const MAX_DURATION_RANGE: &str = "E025";
/// A priority band that is not `[low, high]` within 100–4096 with low <= high.
pub const INVALID_BAND: &str = "E026";
/// The allow and deny priority bands overlap.
pub const BANDS_OVERLAP: &str = "E027";
/// `justification_pattern` is not a valid regular expression.
pub const INVALID_REGEX: &str = "E028";
/// A provider kind other than azure, nftables or snapshot.
pub const UNKNOWN_PROVIDER_KIND: &str = "E029";
/// An azure `mode` other than nsg or defender.
pub const INVALID_MODE: &str = "E030";
/// Any other malformed value (empty string, bad resource id, bad URL, bad rule prefix, …).
pub const INVALID_VALUE: &str = "E031";
/// Two ports of one target with the same number.
pub const DUPLICATE_PORT_NUMBER: &str = "E032";

// References and request rules.
/// A target names a provider that is not declared.
pub const UNKNOWN_PROVIDER: &str = "E040";
/// A target lacks an attribute its provider kind needs (`nsg_id`, `vm_id`).
pub const PROVIDER_NEEDS_ATTRIBUTE: &str = "E041";
/// A target sets an attribute its provider kind does not use.
pub const PROVIDER_IGNORES_ATTRIBUTE: &str = "E042";
/// A request names a target that is not declared.
pub const UNKNOWN_TARGET: &str = "E043";
/// A request names a port its target does not protect.
pub const UNKNOWN_PORT: &str = "E044";
/// A request's source is not inside any allowed source of a requested port.
pub const SOURCE_NOT_ALLOWED: &str = "E045";
/// A request's duration is not positive or exceeds a requested port's `max_duration`.
pub const DURATION_NOT_ALLOWED: &str = "E046";
/// The requester approves their own request.
pub const SELF_APPROVAL: &str = "E047";
/// Fewer approvers than `approvals_required`.
pub const TOO_FEW_APPROVERS: &str = "E048";
/// The justification does not match `justification_pattern`.
pub const JUSTIFICATION_MISMATCH: &str = "E049";
/// A port or an approver listed twice in one request.
pub const DUPLICATE_ENTRY: &str = "E050";

// Accepted foreign rules (`accept` blocks).
/// An `accept` names an NSG that no target names.
pub const ACCEPT_UNKNOWN_NSG: &str = "E090";
/// Two `accept` blocks with one name, or two that accept the same rule of the same NSG.
pub const ACCEPT_DUPLICATE: &str = "E091";
/// An `accept`'s justification does not match `justification_pattern`.
pub const ACCEPT_JUSTIFICATION_MISMATCH: &str = "E092";
/// Warning: an `accept` whose `expires` has passed; its rule is a finding again.
pub const ACCEPT_EXPIRED: &str = "E093";
/// An `accept`'s `rule` is not a legal security rule name.
pub const ACCEPT_RULE_NAME: &str = "E094";

// nftables (E110–E119).
/// Two nftables providers name the same table: each would remove the other's grants.
pub const NFTABLES_TABLE_SHARED: &str = "E110";

// Trust: risky input and files (E070–E079).
/// A CIDR with host bits set (`10.0.0.5/24`); the hint gives the network and the host.
pub const CIDR_HOST_BITS: &str = "E070";
/// A request's source is of another address family than its target's destination.
pub const ADDRESS_FAMILY_MISMATCH: &str = "E071";
/// Warning: a target protects no ports, so jit locks nothing down for it.
pub const TARGET_WITHOUT_PORTS: &str = "E072";
/// The allow priority band does not lie below (numbers lower than) the deny band.
pub const BANDS_ORDER: &str = "E073";
/// A time that parses but is not RFC 3339 (a space for `T`, `+0100`, no seconds, …).
pub const NOT_RFC3339: &str = "E074";
/// A time, or a request's end, outside 1970-01-01T00:00:00Z to 9999-01-01T00:00:00Z.
pub const TIME_OUT_OF_RANGE: &str = "E075";
/// A config file or folder is a symbolic link that leads out of the config directory.
pub const SYMLINK_OUT_OF_CONFIG: &str = "E076";
/// Plan warning: an active grant is open to any source (`*`, `0.0.0.0/0`, `::/0`).
pub const GRANT_ANY_SOURCE: &str = "E077";
// Names that collide once compiled (E080–E089).
/// Two requests whose ids differ only in case (ARM rule names compare without case).
pub const REQUEST_IDS_DIFFER_IN_CASE: &str = "E080";
/// Two request/port pairs whose allow rules compile to one rule name.
pub const ALLOW_RULE_NAME_COLLISION: &str = "E081";
/// Two target/port pairs of one NSG whose lock-down rules compile to one rule name.
pub const LOCK_DOWN_NAME_COLLISION: &str = "E082";
// Approvals (approval_signers, approval blocks, names).
/// `approval_signers` cannot be read (missing, not a file, outside the config directory), or an
/// `approval` block is written without `approval_signers` set.
pub const SIGNERS_FILE: &str = "E060";
/// A line of the allowed_signers file is malformed or uses what jit does not support.
pub const SIGNERS_LINE: &str = "E061";
/// An `approval` block names a request that is not declared.
pub const UNKNOWN_REQUEST: &str = "E062";
/// An approval's signature is not SSHSIG armour, or is for another namespace than `jit-approval`.
pub const BAD_SIGNATURE: &str = "E063";
/// An approval's principal, or its key for that principal, is not in allowed_signers.
pub const SIGNER_NOT_ALLOWED: &str = "E064";
/// An approval's signature does not verify over the request as it is now.
pub const SIGNATURE_MISMATCH: &str = "E065";
/// An approval's allowed_signers line is not valid at the request's start.
pub const SIGNER_EXPIRED: &str = "E066";
/// A person's name holds a control, zero-width or bidi character, or mixes scripts.
pub const INVALID_PERSON: &str = "E067";
/// Warning: approvals are in use but not verified (no `approval_signers`).
pub const APPROVALS_UNVERIFIED: &str = "E068";
/// Warning: an approver listed in a request has no valid `approval` block, so does not count.
pub const APPROVER_UNSIGNED: &str = "E069";

// Azure at scale (E120–E129).
/// A `read` mode of an azure provider other than `auto`, `resource_graph` or `direct`.
pub const INVALID_READ_MODE: &str = "E120";
// Defender for Cloud JIT (E100–E109).
/// In mode `defender`, a request source narrower than the port's allowed source (Defender
/// refuses it): it must equal an allowed source, or the port must allow `*`.
pub const DEFENDER_SOURCE_NOT_EXACT: &str = "E100";
/// Policy name plus VM name longer than Defender's 56 characters.
pub const DEFENDER_NAME_TOO_LONG: &str = "E101";
/// In mode `defender`, a request shorter than Defender's shortest window (5 minutes).
pub const DEFENDER_WINDOW: &str = "E102";
/// A `policy_name` that cannot name a JIT policy.
pub const INVALID_POLICY_NAME: &str = "E103";
/// `policy_name` on an azure provider in mode `nsg`, which writes no JIT policy.
pub const POLICY_NAME_UNUSED: &str = "E104";
/// A plan warning: Defender still holds a grant of jit's open although the repository's grant
/// has ended or is gone; Azure closes it at its `endTimeUtc`, and its API cannot close it
/// earlier.
pub const DEFENDER_STILL_OPEN: &str = "E105";
