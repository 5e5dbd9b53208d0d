//! Rules of the language, one test each, through [`load`].

use super::*;
use crate::diag::Diagnostic;
use crate::model::Protocol;

const POLICY: &str = r#"settings {
  approvals_required    = 1
  justification_pattern = "^(INC|CHG)-[0-9]+"
}

provider "snapshot" "demo" {
  path = "live/nsgs.json"
}

target "web-1" {
  provider    = "snapshot.demo"
  nsg_id      = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/web-1-nsg"
  destination = "10.0.1.4"

  port "ssh" {
    number          = 22
    allowed_sources = ["198.51.100.0/24", "2001:db8::/48"]
    max_duration    = "3h"
  }

  port "rdp" {
    number          = 3389
    protocol        = "any"
    allowed_sources = ["198.51.100.0/24"]
    max_duration    = "PT90M"
  }
}
"#;

const REQUEST: &str = r#"request "INC-1-alice" {
  target        = "web-1"
  ports         = ["ssh", 3389]
  source        = "198.51.100.7"
  requester     = "alice@example.com"
  approvers     = ["bob@example.com"]
  justification = "INC-1 deploy"
  start         = "2026-11-25T14:00:00Z"
  duration      = "1h"
}
"#;

fn files(list: &[(&str, &str)]) -> Vec<SourceFile> {
    list.iter()
        .map(|(path, text)| SourceFile {
            path: path.to_string(),
            text: text.to_string(),
        })
        .collect()
}

/// The policy plus a request with `from` replaced by `to`.
fn request_with(from: &str, to: &str) -> Vec<Diagnostic> {
    assert!(REQUEST.contains(from), "{from}");
    errors(&[
        ("policy.hcl", POLICY),
        ("req.hcl", &REQUEST.replace(from, to)),
    ])
}

fn policy_with(from: &str, to: &str) -> Vec<Diagnostic> {
    assert!(POLICY.contains(from), "{from}");
    errors(&[("policy.hcl", &POLICY.replace(from, to))])
}

/// Every diagnostic but the warning that name approvals are not verified (these tests use
/// names).
fn errors(list: &[(&str, &str)]) -> Vec<Diagnostic> {
    let mut diags = load(&files(list)).expect_err("errors");
    diags.retain(|d| d.code != codes::APPROVALS_UNVERIFIED);
    diags
}

/// [`errors`] without the warnings.
fn only_errors(list: &[(&str, &str)]) -> Vec<Diagnostic> {
    errors(list)
        .into_iter()
        .filter(|d| d.severity == crate::diag::Severity::Error)
        .collect()
}

/// The one diagnostic, checked for code and a message fragment.
fn only(diags: Vec<Diagnostic>, code: &str, fragment: &str) -> Diagnostic {
    assert_eq!(diags.len(), 1, "{diags:#?}");
    let d = diags.into_iter().next().unwrap();
    assert_eq!(d.code, code, "{d:#?}");
    assert!(d.message.contains(fragment), "{d:#?}");
    d
}

#[test]
fn valid_policy_and_request_load() {
    let policy = load(&files(&[("policy.hcl", POLICY), ("req.hcl", REQUEST)])).unwrap();
    assert_eq!(policy.settings.approvals_required, 1);
    assert_eq!(policy.settings.rule_prefix, "jit");
    assert_eq!(policy.providers.len(), 1);
    let target = policy.target("web-1").unwrap();
    assert_eq!(target.destination, "10.0.1.4");
    assert_eq!(target.ports[0].protocol, Protocol::Tcp);
    assert_eq!(target.ports[1].protocol, Protocol::Any);
    assert_eq!(
        target.ports[1].max_duration,
        jiff::SignedDuration::from_mins(90)
    );
    assert_eq!(
        target.ports[0].allowed_sources[1].to_string(),
        "2001:db8::/48"
    );
    let grant = &policy.grants[0];
    assert_eq!(grant.ports, ["ssh", "rdp"]);
    assert_eq!(grant.source.to_string(), "198.51.100.7/32");
    assert_eq!(grant.duration, jiff::SignedDuration::from_hours(1));
}

#[test]
fn unknown_block_type_suggests() {
    let d = only(
        errors(&[("a.hcl", "targte \"x\" {\n}\n")]),
        codes::UNKNOWN_BLOCK,
        "`targte`",
    );
    assert_eq!(d.hint.as_deref(), Some("did you mean `target`?"));
    assert_eq!((d.line, d.column), (1, 1));
}

#[test]
fn unknown_attribute_suggests_nearest() {
    let d = only(
        policy_with(
            "allowed_sources = [\"198.51.100.0/24\"]",
            "allowed_source = [\"198.51.100.0/24\"]",
        ),
        codes::UNKNOWN_ATTRIBUTE,
        "`allowed_source`",
    );
    assert_eq!(d.hint.as_deref(), Some("did you mean `allowed_sources`?"));
    assert_eq!((d.line, d.column), (24, 5));
}

#[test]
fn missing_required_attribute() {
    only(
        request_with("  requester     = \"alice@example.com\"\n", ""),
        codes::MISSING_ATTRIBUTE,
        "missing `requester`",
    );
}

#[test]
fn wrong_type() {
    let d = only(
        policy_with("number          = 22", "number          = \"22\""),
        codes::WRONG_TYPE,
        "must be a number",
    );
    assert_eq!(d.hint.as_deref(), Some("write 22 without quotes"));
}

#[test]
fn port_number_out_of_range() {
    only(
        policy_with("number          = 22", "number          = 70000"),
        codes::PORT_RANGE,
        "`70000`",
    );
    only(
        policy_with("number          = 22", "number          = 0"),
        codes::PORT_RANGE,
        "`0`",
    );
}

#[test]
fn duplicate_port_number() {
    only(
        policy_with("number          = 3389", "number          = 22"),
        codes::DUPLICATE_PORT_NUMBER,
        "`22` twice",
    );
}

#[test]
fn unknown_protocol() {
    let d = only(
        policy_with("protocol        = \"any\"", "protocol        = \"tcpp\""),
        codes::INVALID_PROTOCOL,
        "`tcpp`",
    );
    assert_eq!(d.hint.as_deref(), Some("did you mean `tcp`?"));
}

#[test]
fn max_duration_bounds() {
    only(
        policy_with("\"3h\"", "\"25h\""),
        codes::MAX_DURATION_RANGE,
        "outside 5m–24h",
    );
    only(
        policy_with("\"3h\"", "\"4m\""),
        codes::MAX_DURATION_RANGE,
        "outside 5m–24h",
    );
    only(
        policy_with("\"3h\"", "\"3 fortnights\""),
        codes::INVALID_DURATION,
        "invalid duration",
    );
}

#[test]
fn bad_cidr() {
    only(
        policy_with("\"2001:db8::/48\"", "\"2001:db8::/129\""),
        codes::INVALID_CIDR,
        "`2001:db8::/129`",
    );
}

#[test]
fn unquoted_cidr() {
    let d = only(
        policy_with("[\"198.51.100.0/24\"]", "[198.51.100.0/24]"),
        codes::UNQUOTED_VALUE,
        "CIDR must be a quoted string",
    );
    assert_eq!(d.hint.as_deref(), Some("write \"198.51.100.0/24\""));
}

#[test]
fn unknown_provider_reference() {
    let d = only(
        policy_with(
            "provider    = \"snapshot.demo\"",
            "provider    = \"snapshot.dmo\"",
        ),
        codes::UNKNOWN_PROVIDER,
        "`snapshot.dmo`",
    );
    assert_eq!(d.hint.as_deref(), Some("did you mean `snapshot.demo`?"));
}

#[test]
fn provider_kind_needs_attributes() {
    let without_nsg = POLICY.replace(
        "  nsg_id      = \"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/web-1-nsg\"\n",
        "",
    );
    only(
        errors(&[("p.hcl", &without_nsg)]),
        codes::PROVIDER_NEEDS_ATTRIBUTE,
        "needs `nsg_id`",
    );
    let defender = POLICY
        .replace(
            "provider \"snapshot\" \"demo\" {\n  path = \"live/nsgs.json\"\n}",
            "provider \"azure\" \"demo\" {\n  subscription_id = \"s\"\n  mode = \"defender\"\n}",
        )
        .replace("snapshot.demo", "azure.demo");
    only(
        errors(&[("p.hcl", &defender)]),
        codes::PROVIDER_NEEDS_ATTRIBUTE,
        "needs `vm_id`",
    );
}

#[test]
fn duplicate_names_across_files_point_at_the_first() {
    let d = only(
        only_errors(&[("a.hcl", POLICY), ("b.hcl", "target \"web-1\" {\n  provider = \"snapshot.demo\"\n  nsg_id = \"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/n\"\n}\n")]),
        codes::DUPLICATE_NAME,
        "target `web-1` is declared twice",
    );
    assert_eq!(d.file, "b.hcl");
    assert_eq!(d.hint.as_deref(), Some("the first is at a.hcl:10:8"));
}

#[test]
fn second_settings_block() {
    let d = only(
        errors(&[("a.hcl", POLICY), ("b.hcl", "settings {\n}\n")]),
        codes::DUPLICATE_SETTINGS,
        "more than one",
    );
    assert_eq!(
        d.hint.as_deref(),
        Some("the first `settings` block is at a.hcl:1:1")
    );
}

#[test]
fn priority_bands() {
    only(
        policy_with(
            "approvals_required    = 1",
            "approvals_required = 1\n  allow_priority = [50, 60]",
        ),
        codes::INVALID_BAND,
        "`50` is outside 100–4096",
    );
    only(
        policy_with(
            "approvals_required    = 1",
            "approvals_required = 1\n  allow_priority = [300, 200]",
        ),
        codes::INVALID_BAND,
        "above its end",
    );
    only(
        policy_with(
            "approvals_required    = 1",
            "approvals_required = 1\n  allow_priority = [100]",
        ),
        codes::INVALID_BAND,
        "two numbers",
    );
    only(
        policy_with(
            "approvals_required    = 1",
            "approvals_required = 1\n  deny_priority = [150, 250]",
        ),
        codes::BANDS_OVERLAP,
        "overlaps",
    );
}

#[test]
fn invalid_regex_points_at_the_pattern() {
    let d = only(
        policy_with("\"^(INC|CHG)-[0-9]+\"", "\"^(INC\""),
        codes::INVALID_REGEX,
        "not a valid regular expression",
    );
    assert_eq!((d.line, d.column), (3, 27));
}

#[test]
fn request_unknown_target_and_port() {
    let d = only(
        request_with("\"web-1\"", "\"web-2\""),
        codes::UNKNOWN_TARGET,
        "`web-2`",
    );
    assert_eq!(d.hint.as_deref(), Some("did you mean `web-1`?"));
    let d = only(
        request_with("[\"ssh\", 3389]", "[\"ssh\", 443]"),
        codes::UNKNOWN_PORT,
        "no port `443`",
    );
    assert_eq!(
        d.hint.as_deref(),
        Some("ports of target `web-1` are ssh (22), rdp (3389)")
    );
}

#[test]
fn request_source_outside_lists_allowed() {
    let diags = request_with("\"198.51.100.7\"", "\"203.0.113.9/32\"");
    assert_eq!(diags.len(), 2, "{diags:#?}");
    assert_eq!(diags[0].code, codes::SOURCE_NOT_ALLOWED);
    assert_eq!(
        diags[0].hint.as_deref(),
        Some("allowed sources for port `ssh` are 198.51.100.0/24, 2001:db8::/48")
    );
    // A network wider than the allowed one is not contained in it.
    let diags = request_with("\"198.51.100.7\"", "\"198.51.0.0/16\"");
    assert_eq!(diags.len(), 2, "{diags:#?}");
}

#[test]
fn request_duration_limits() {
    only(
        request_with("\"1h\"", "\"2h\""),
        codes::DURATION_NOT_ALLOWED,
        "exceeds the `max_duration` `1h 30m` of port `rdp`",
    );
    only(
        request_with("\"1h\"", "\"-1h\""),
        codes::INVALID_DURATION,
        "invalid duration `-1h`",
    );
    only(
        request_with("\"1h\"", "\"0m\""),
        codes::DURATION_NOT_ALLOWED,
        "not positive",
    );
}

#[test]
fn request_start_needs_offset() {
    only(
        request_with("\"2026-11-25T14:00:00Z\"", "\"2026-11-25T14:00:00\""),
        codes::INVALID_TIME,
        "no UTC offset",
    );
}

#[test]
fn requester_cannot_approve() {
    let diags = request_with("[\"bob@example.com\"]", "[\"Alice@example.com\"]");
    assert_eq!(diags.len(), 2, "{diags:#?}");
    // Sorted by position: the list starts before its element.
    assert_eq!(diags[0].code, codes::TOO_FEW_APPROVERS);
    assert_eq!(diags[1].code, codes::SELF_APPROVAL);
}

#[test]
fn too_few_approvers() {
    let d = only(
        request_with("[\"bob@example.com\"]", "[]"),
        codes::TOO_FEW_APPROVERS,
        "has 0 approvers, 1 required",
    );
    assert_eq!(
        d.hint.as_deref(),
        Some("`approvals_required = 1` is set at policy.hcl:2:27")
    );
}

#[test]
fn justification_must_match() {
    let d = only(
        request_with("\"INC-1 deploy\"", "\"deploy\""),
        codes::JUSTIFICATION_MISMATCH,
        "does not match",
    );
    assert!(d.hint.unwrap().contains("policy.hcl:3:27"));
}

#[test]
fn port_listed_twice_in_request() {
    only(
        request_with("[\"ssh\", 3389]", "[\"ssh\", \"ssh\"]"),
        codes::DUPLICATE_ENTRY,
        "port `ssh` is listed twice",
    );
    // By name and by number: the same port.
    only(
        request_with("[\"ssh\", 3389]", "[\"ssh\", 22]"),
        codes::DUPLICATE_ENTRY,
        "port `22` is port `ssh`, listed already",
    );
}

#[test]
fn diagnostics_of_all_files_are_sorted() {
    let diags = errors(&[
        ("a.hcl", "bogus {\n}\nsettings {\n  colour = 1\n}\n"),
        ("b.hcl", "x = 1\n"),
        ("c.hcl", "request \"r\" {\n  target = \"nope\"\n  ports = [22]\n  source = \"10.0.0.1\"\n  requester = \"a\"\n  justification = \"j\"\n  start = \"2026-01-01T00:00:00Z\"\n  duration = \"1h\"\n}\n"),
    ]);
    let places = diags
        .iter()
        .map(|d| format!("{}:{}:{} {}", d.file, d.line, d.column, d.code))
        .collect::<Vec<_>>();
    assert_eq!(
        places,
        [
            "a.hcl:1:1 E010",
            "a.hcl:4:3 E012",
            "b.hcl:1:1 E019",
            "c.hcl:2:12 E043"
        ]
    );
}

#[test]
fn syntax_error_in_one_file_does_not_hide_others() {
    let diags = errors(&[
        ("a.hcl", "target \"x\" {\n"),
        ("b.hcl", "targett \"y\" {\n}\n"),
    ]);
    assert_eq!(diags.len(), 2);
    assert_eq!(diags[0].code, codes::UNCLOSED_BLOCK);
    assert_eq!(diags[1].code, codes::UNKNOWN_BLOCK);
}

#[test]
fn labels_are_checked() {
    only(
        errors(&[("a.hcl", "target {\n}\n")]),
        codes::BLOCK_LABELS,
        "takes one label, found 0",
    );
    only(
        errors(&[("a.hcl", "target \"bad name\" {\n  provider = \"x.y\"\n}\n")]),
        codes::INVALID_NAME,
        "`bad name`",
    );
    only(
        errors(&[("a.hcl", "provider \"azur\" \"p\" {\n}\n")]),
        codes::UNKNOWN_PROVIDER_KIND,
        "`azur`",
    );
}

#[test]
fn interpolation_is_unsupported() {
    only(
        policy_with("\"live/nsgs.json\"", "\"${path}\""),
        codes::UNSUPPORTED_EXPRESSION,
        "interpolation",
    );
}

#[test]
fn empty_input_is_an_empty_policy() {
    let policy = load(&[]).unwrap();
    assert!(policy.targets.is_empty());
}

#[test]
fn many_files_give_the_same_result_as_one_thread() {
    // Enough files to be decoded on several threads, with errors spread over them.
    let mut list = vec![("policy.hcl".to_string(), POLICY.to_string())];
    for i in 0..200 {
        let text = REQUEST.replace("INC-1-alice", &format!("INC-{i}-alice"));
        let text = if i % 50 == 7 {
            text.replace("\"web-1\"", "\"web-2\"")
        } else {
            text
        };
        list.push((format!("requests/{i:03}.hcl"), text));
    }
    let refs = list
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect::<Vec<_>>();
    let diags = errors(&refs);
    let places = diags
        .iter()
        .map(|d| format!("{}:{}", d.file, d.line))
        .collect::<Vec<_>>();
    assert_eq!(
        places,
        [
            "requests/007.hcl:2",
            "requests/057.hcl:2",
            "requests/107.hcl:2",
            "requests/157.hcl:2"
        ]
    );
    let ok = list
        .iter()
        .filter(|(_, t)| !t.contains("web-2"))
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect::<Vec<_>>();
    let policy = load(&files(&ok)).unwrap();
    assert_eq!(policy.grants.len(), 196);
    assert_eq!(policy.grants[0].id, "INC-0-alice");
    assert_eq!(policy.grants[195].id, "INC-199-alice");
}

// Risky input (E070–E075, E077): an error or a warning, never silent.

#[test]
fn host_bits_are_an_error_wherever_a_cidr_is_written() {
    let d = only(
        request_with("\"198.51.100.7\"", "\"198.51.100.7/24\""),
        codes::CIDR_HOST_BITS,
        "CIDR `198.51.100.7/24` has host bits set",
    );
    assert_eq!(
        d.hint.as_deref(),
        Some("write the network `198.51.100.0/24`, or the single host `198.51.100.7/32`")
    );
    assert_eq!((d.file.as_str(), d.line, d.column), ("req.hcl", 4, 19));
    let d = only(
        policy_with("\"198.51.100.0/24\", \"2001", "\"198.51.100.9/24\", \"2001"),
        codes::CIDR_HOST_BITS,
        "`198.51.100.9/24`",
    );
    assert_eq!((d.line, d.column), (17, 24));
    only(
        policy_with("\"10.0.1.4\"", "\"10.0.1.4/24\""),
        codes::CIDR_HOST_BITS,
        "`10.0.1.4/24`",
    );
}

#[test]
fn a_source_of_another_family_than_the_destination_is_an_error() {
    let d = only(
        request_with("\"198.51.100.7\"", "\"2001:db8::7\""),
        codes::ADDRESS_FAMILY_MISMATCH,
        "source `2001:db8::7/128` is IPv6 but target `web-1` has the IPv4 destination `10.0.1.4`",
    );
    assert_eq!((d.line, d.column), (4, 19));
    // With destination `*`, either family is fine.
    let policy = POLICY.replace("\"10.0.1.4\"", "\"*\"");
    let request = REQUEST
        .replace("\"198.51.100.7\"", "\"2001:db8::7\"")
        .replace("[\"ssh\", 3389]", "[\"ssh\"]");
    load(&files(&[("policy.hcl", &policy), ("req.hcl", &request)])).unwrap();
}

#[test]
fn a_target_without_ports_is_a_warning() {
    let policy = POLICY.replace(
        "target \"web-1\" {",
        "target \"bare\" {\n  provider = \"snapshot.demo\"\n  nsg_id = \"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/b\"\n}\n\ntarget \"web-1\" {",
    );
    let loaded = load_all(&files(&[("policy.hcl", &policy)]));
    assert!(!loaded.has_errors(), "{:#?}", loaded.diagnostics);
    let diagnostics = loaded
        .diagnostics
        .into_iter()
        .filter(|d| d.code != codes::APPROVALS_UNVERIFIED)
        .collect();
    let d = only(
        diagnostics,
        codes::TARGET_WITHOUT_PORTS,
        "target `bare` protects no ports",
    );
    assert_eq!(d.severity, crate::diag::Severity::Warning);
    assert_eq!((d.line, d.column), (10, 1));
    assert!(loaded.policy.target("bare").is_some());
}

#[test]
fn the_allow_band_must_lie_below_the_deny_band() {
    let d = only(
        policy_with(
            "  approvals_required    = 1\n",
            "  approvals_required    = 1\n  allow_priority = [4000, 4095]\n  deny_priority = [100, 199]\n",
        ),
        codes::BANDS_ORDER,
        "`allow_priority` [4000, 4095] is not below `deny_priority` [100, 199]",
    );
    assert_eq!((d.line, d.column), (3, 20));
}

#[test]
fn start_is_rfc3339_only() {
    for start in [
        "2026-11-25 14:00:00Z",
        "2026-11-25T14:00Z",
        "2026-11-25T14:00:00+0100",
        "2026-11-25T14:00:00Z[UTC]",
    ] {
        let d = only(
            request_with("2026-11-25T14:00:00Z", start),
            codes::NOT_RFC3339,
            "is not RFC 3339",
        );
        assert_eq!((d.line, d.column), (8, 19), "{start}");
    }
}

#[test]
fn times_and_ends_out_of_range_are_errors() {
    only(
        request_with("2026-11-25T14:00:00Z", "9999-12-30T22:00:00Z"),
        codes::TIME_OUT_OF_RANGE,
        "is out of range",
    );
    let d = only(
        request_with("2026-11-25T14:00:00Z", "9998-12-31T23:30:00Z"),
        codes::TIME_OUT_OF_RANGE,
        "request `INC-1-alice` ends after the last time jit accepts",
    );
    assert_eq!((d.line, d.column), (8, 19));
}

#[test]
fn any_source_is_accepted_when_written_out() {
    let policy = POLICY.replace("[\"198.51.100.0/24\", \"2001:db8::/48\"]", "[\"*\"]");
    let request = REQUEST
        .replace("\"198.51.100.7\"", "\"*\"")
        .replace("[\"ssh\", 3389]", "[\"ssh\"]");
    let policy = load(&files(&[("policy.hcl", &policy), ("req.hcl", &request)])).unwrap();
    let ssh = policy.targets[0].port("ssh").unwrap();
    let allowed: Vec<String> = ssh
        .allowed_sources
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(allowed, ["0.0.0.0/0", "::/0"]);
    assert_eq!(policy.grants[0].source.to_string(), "0.0.0.0/0");
    // Any other source is inside `*` too.
    let request = REQUEST.replace("[\"ssh\", 3389]", "[\"ssh\"]");
    let policy_text = POLICY.replace("[\"198.51.100.0/24\", \"2001:db8::/48\"]", "[\"*\"]");
    load(&files(&[
        ("policy.hcl", &policy_text),
        ("req.hcl", &request),
    ]))
    .unwrap();
    // Without `*` in policy, a request for any source is not allowed.
    let request = REQUEST
        .replace("\"198.51.100.7\"", "\"*\"")
        .replace("[\"ssh\", 3389]", "[\"ssh\"]");
    only(
        errors(&[("policy.hcl", POLICY), ("req.hcl", &request)]),
        codes::SOURCE_NOT_ALLOWED,
        "source `0.0.0.0/0` is not allowed",
    );
}

mod approvals {
    //! `approval` blocks against an allowed_signers file, with keys made in-process.

    use super::*;
    use crate::lang::SignersFile;
    use ssh_key::private::Ed25519Keypair;
    use ssh_key::{HashAlg, LineEnding, PrivateKey};

    fn key(seed: u8) -> PrivateKey {
        PrivateKey::from(Ed25519Keypair::from_seed(&[seed; 32]))
    }

    fn signers_text() -> String {
        format!(
            "alice@example.com {}\nbob@example.com {}\n",
            key(1).public_key().to_openssh().unwrap(),
            key(2).public_key().to_openssh().unwrap()
        )
    }

    fn signed_policy() -> String {
        POLICY.replace(
            "approvals_required    = 1\n",
            "approvals_required    = 1\n  approval_signers      = \"approvers/allowed_signers\"\n",
        )
    }

    fn request() -> String {
        REQUEST.replace("  approvers     = [\"bob@example.com\"]\n", "")
    }

    fn block(seed: u8, by: &str, message: &str) -> String {
        let sig = key(seed)
            .sign("jit-approval", HashAlg::Sha512, message.as_bytes())
            .unwrap()
            .to_pem(LineEnding::LF)
            .unwrap();
        let body = sig
            .lines()
            .map(|l| format!("    {l}\n"))
            .collect::<String>();
        format!("\napproval \"INC-1-alice\" {{\n  by = \"{by}\"\n  signature = <<-EOT\n{body}  EOT\n}}\n")
    }

    fn load_signed(request: &str, signers: &str) -> Loaded {
        let file = SignersFile {
            path: "approvers/allowed_signers".into(),
            text: Ok(signers.to_string()),
        };
        let policy = signed_policy();
        load_all_with(
            &files(&[("policy.hcl", &policy), ("req.hcl", request)]),
            Some(&file),
        )
    }

    /// The message of the request, from a first load (which has too few approvals).
    fn message() -> String {
        let loaded = load_signed(&request(), &signers_text());
        let found = &loaded.approvable[0];
        assert_eq!(
            (found.id.as_str(), found.file.as_str()),
            ("INC-1-alice", "req.hcl")
        );
        assert!(loaded
            .diagnostics
            .iter()
            .any(|d| d.code == codes::TOO_FEW_APPROVERS
                && d.message.contains("0 verified approvals")));
        found.message.clone()
    }

    #[test]
    fn a_verified_approval_is_the_grants_approver() {
        let text = request() + &block(2, "bob@example.com", &message());
        let loaded = load_signed(&text, &signers_text());
        assert!(loaded.diagnostics.is_empty(), "{:#?}", loaded.diagnostics);
        assert_eq!(loaded.policy.grants[0].approvers, ["bob@example.com"]);
        assert_eq!(
            loaded.policy.settings.approval_signers.as_deref(),
            Some("approvers/allowed_signers")
        );
    }

    #[test]
    fn a_listed_approver_who_has_not_signed_is_a_warning() {
        let loaded = load_signed(REQUEST, &signers_text());
        let unsigned = loaded
            .diagnostics
            .iter()
            .find(|d| d.code == codes::APPROVER_UNSIGNED)
            .unwrap();
        assert_eq!(unsigned.severity, crate::diag::Severity::Warning);
        assert_eq!((unsigned.file.as_str(), unsigned.line), ("req.hcl", 6));
        assert!(loaded.policy.grants.is_empty());
    }

    #[test]
    fn a_refused_approval_is_an_error_at_its_block_and_drops_the_grant() {
        let text = request() + &block(2, "bob@example.com", "jit-approval-v1\nsomething else\n");
        let loaded = load_signed(&text, &signers_text());
        let d = loaded
            .diagnostics
            .iter()
            .find(|d| d.code == codes::SIGNATURE_MISMATCH)
            .unwrap();
        assert_eq!((d.file.as_str(), d.line, d.column), ("req.hcl", 11, 1));
        assert!(loaded.policy.grants.is_empty());
    }

    #[test]
    fn signers_problems_are_diagnostics_of_their_file_or_setting() {
        let text = signers_text() + "ops@example.com cert-authority ssh-ed25519 AAAA\n";
        let loaded = load_signed(&request(), &text);
        let d = loaded
            .diagnostics
            .iter()
            .find(|d| d.code == codes::SIGNERS_LINE)
            .unwrap();
        assert_eq!(
            (d.file.as_str(), d.line, d.column),
            ("approvers/allowed_signers", 3, 17)
        );

        // Set but not handed over (the pure `load`): an error at the setting, nothing counts.
        let policy = signed_policy();
        let text = request() + &block(2, "bob@example.com", &message());
        let diags = load(&files(&[("policy.hcl", &policy), ("req.hcl", &text)])).unwrap_err();
        let d = diags
            .iter()
            .find(|d| d.code == codes::SIGNERS_FILE)
            .unwrap();
        assert_eq!((d.file.as_str(), d.line), ("policy.hcl", 3));
        assert!(diags.iter().any(|d| d.code == codes::TOO_FEW_APPROVERS));

        // Not readable: the reason, at the setting.
        let file = SignersFile {
            path: "approvers/allowed_signers".into(),
            text: Err("it does not exist".into()),
        };
        let loaded = load_all_with(
            &files(&[("policy.hcl", &policy), ("req.hcl", &text)]),
            Some(&file),
        );
        assert!(loaded
            .diagnostics
            .iter()
            .any(|d| d.code == codes::SIGNERS_FILE && d.message.ends_with(": it does not exist")));
    }

    #[test]
    fn an_approval_block_needs_approval_signers() {
        let text = request() + &block(2, "bob@example.com", "x");
        let diags = load(&files(&[("policy.hcl", POLICY), ("req.hcl", &text)])).unwrap_err();
        let d = diags
            .iter()
            .find(|d| d.code == codes::SIGNERS_FILE)
            .unwrap();
        assert_eq!((d.line, d.column), (11, 1));
        assert!(
            d.message.contains("`approval_signers` is not set"),
            "{d:#?}"
        );
    }

    #[test]
    fn names_are_checked_where_they_are_written() {
        let has = |diags: Vec<Diagnostic>, code: &str, fragment: &str| {
            assert!(
                diags
                    .iter()
                    .any(|d| d.code == code && d.message.contains(fragment)),
                "{diags:#?}"
            );
        };
        has(
            request_with("\"bob@example.com\"", "\"b\\u043eb@example.com\""),
            codes::INVALID_PERSON,
            "mixes scripts",
        );
        has(
            request_with("\"alice@example.com\"", "\"alice@example.com\\u200d\""),
            codes::INVALID_PERSON,
            "zero-width",
        );
        only(
            request_with(
                "[\"bob@example.com\"]",
                "[\"bob@example.com\", \"BOB@example.com\"]",
            ),
            codes::DUPLICATE_ENTRY,
            "listed twice",
        );
        let d = request_with("[\"bob@example.com\"]", "[\"ALICE@example.com\"]");
        assert!(d.iter().any(|d| d.code == codes::SELF_APPROVAL), "{d:#?}");
    }
}

#[test]
fn back_to_back_requests_of_one_person_are_bounded_by_max_duration() {
    let second = REQUEST
        .replace("INC-1-alice", "INC-2-alice")
        .replace("14:00:00Z", "15:00:00Z")
        .replace("[\"ssh\", 3389]", "[\"ssh\"]")
        .replace("\"1h\"", "\"150m\"");
    let diags = errors(&[
        ("policy.hcl", POLICY),
        ("a.hcl", REQUEST),
        ("b.hcl", &second),
    ]);
    let d = only(
        diags,
        codes::DURATION_NOT_ALLOWED,
        "give `alice@example.com` 3h",
    );
    assert_eq!((d.file.as_str(), d.line), ("b.hcl", 1));
    assert!(d
        .hint
        .unwrap()
        .contains("request `INC-1-alice` (at a.hcl:1:1)"));
    // Another person, or a gap: fine.
    let bob = second.replace(
        "requester     = \"alice@example.com\"",
        "requester     = \"carol@example.com\"",
    );
    assert!(load(&files(&[
        ("policy.hcl", POLICY),
        ("a.hcl", REQUEST),
        ("b.hcl", &bob)
    ]))
    .is_ok());
    let later = second.replace("15:00:00Z", "15:00:01Z");
    assert!(load(&files(&[
        ("policy.hcl", POLICY),
        ("a.hcl", REQUEST),
        ("b.hcl", &later)
    ]))
    .is_ok());
}

#[test]
fn azure_read_mode_is_checked_and_passed_on() {
    let azure = |read: &str| {
        POLICY
            .replace(
                "provider \"snapshot\" \"demo\" {\n  path = \"live/nsgs.json\"\n}",
                &format!("provider \"azure\" \"demo\" {{\n  subscription_id = \"s\"\n  {read}\n}}"),
            )
            .replace("snapshot.demo", "azure.demo")
    };
    let d = only(
        errors(&[("p.hcl", &azure("read = \"resource-graph\""))]),
        codes::INVALID_READ_MODE,
        "unknown `read` mode `resource-graph`",
    );
    assert_eq!(d.hint.as_deref(), Some("did you mean `resource_graph`?"));
    let good = files(&[("p.hcl", &azure("read = \"direct\""))]);
    assert!(load(&good).is_ok());
    assert_eq!(
        azure_reads(&good).into_iter().collect::<Vec<_>>(),
        [("azure.demo".to_string(), crate::model::AzureRead::Direct)]
    );
    assert!(azure_reads(&files(&[("p.hcl", &azure(""))])).is_empty());
}
