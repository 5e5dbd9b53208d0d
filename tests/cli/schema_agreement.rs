//! The schemas and `jit validate` agree on a set of near-miss values: every value the schema of
//! its file kind accepts, validate accepts too, and every one validate refuses, the schema
//! refuses too, unless the case is listed in [`SEMANTIC`] (a check the schema cannot make, and
//! why) or in [`STRICTER`] (a spelling the schema refuses although validate reads it).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::support::{config_dir, repo_path, TestCommand};

const NSG: &str = "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/web-nsg";

/// Each value as HCL writes it; an empty value leaves the attribute out.
fn policy_values() -> BTreeMap<&'static str, String> {
    BTreeMap::from([
        ("approvals_required", "1".to_string()),
        ("mode", "\"nsg\"".to_string()),
        ("nsg_id", format!("\"{NSG}\"")),
        ("destination", "\"10.0.1.4\"".to_string()),
        ("port", "\"ssh\"".to_string()),
        ("number", "22".to_string()),
        ("protocol", "\"tcp\"".to_string()),
        ("allowed_sources", "[\"198.51.100.0/24\"]".to_string()),
        ("max_duration", "\"1d\"".to_string()),
    ])
}

fn request_values() -> BTreeMap<&'static str, String> {
    BTreeMap::from([
        ("ports", "[\"ssh\"]".to_string()),
        ("source", "\"198.51.100.7/32\"".to_string()),
        ("start", "\"2026-11-25T14:00:00Z\"".to_string()),
        ("duration", "\"2h\"".to_string()),
    ])
}

fn line(key: &str, value: &str, indent: &str) -> String {
    if value.is_empty() {
        String::new()
    } else {
        format!("{indent}{key} = {value}\n")
    }
}

fn policy(v: &BTreeMap<&str, String>) -> String {
    format!(
        "settings {{\n{}}}\n\nprovider \"azure\" \"prod\" {{\n  subscription_id = \"00000000-0000-0000-0000-000000000000\"\n{}}}\n\ntarget \"web-1\" {{\n  provider = \"azure.prod\"\n{}{}\n  port {} {{\n{}{}{}{}  }}\n}}\n",
        line("approvals_required", &v["approvals_required"], "  "),
        line("mode", &v["mode"], "  "),
        line("nsg_id", &v["nsg_id"], "  "),
        line("destination", &v["destination"], "  "),
        v["port"],
        line("number", &v["number"], "    "),
        line("protocol", &v["protocol"], "    "),
        line("allowed_sources", &v["allowed_sources"], "    "),
        line("max_duration", &v["max_duration"], "    "),
    )
}

fn request(v: &BTreeMap<&str, String>) -> String {
    format!(
        "request \"INC-1-alice\" {{\n  target = \"web-1\"\n{}{}  requester = \"alice@example.com\"\n  approvers = [\"bob@example.com\"]\n  justification = \"INC-1 deploy\"\n{}{}}}\n",
        line("ports", &v["ports"], "  "),
        line("source", &v["source"], "  "),
        line("start", &v["start"], "  "),
        line("duration", &v["duration"], "  "),
    )
}

/// `(attribute, value)` near misses, for the policy file.
const POLICY_CASES: &[(&str, &str)] = &[
    ("approvals_required", "0"),
    ("approvals_required", "101"),
    ("approvals_required", "-1"),
    ("mode", ""),
    ("mode", "\"NSG\""),
    ("mode", "\"arm\""),
    ("nsg_id", "\"web-nsg\""),
    ("nsg_id", "\"/subscriptions/sub/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/web-1\""),
    ("nsg_id", "\"/subscriptions/sub/resourceGroups/rg/providers/microsoft.network/NETWORKSECURITYGROUPS/web-nsg\""),
    ("nsg_id", "\"/subscriptions/sub/resourceGroups/rg/networkSecurityGroups/web-nsg\""),
    ("nsg_id", "\"/subscriptions/sub/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/web nsg\""),
    ("destination", ""),
    ("destination", "\"*\""),
    ("destination", "\"10.0.1.0/24\""),
    ("destination", "\"10.0.1.4/24\""),
    ("destination", "\"10.0.1.256\""),
    ("destination", "\"web-1\""),
    ("destination", "\" 10.0.1.4\""),
    ("port", "\"rdp\""),
    ("number", ""),
    ("number", "0"),
    ("number", "65535"),
    ("number", "65536"),
    ("number", "-1"),
    ("number", "\"22\""),
    ("number", "2.5"),
    ("protocol", ""),
    ("protocol", "\"udp\""),
    ("protocol", "\"any\""),
    ("protocol", "\"TCP\""),
    ("protocol", "\"Any\""),
    ("protocol", "\"*\""),
    ("protocol", "\"icmp\""),
    ("allowed_sources", ""),
    ("allowed_sources", "[\"*\"]"),
    ("allowed_sources", "[\"198.51.100.7\"]"),
    ("allowed_sources", "[\"2001:db8::/48\"]"),
    ("allowed_sources", "[\"2001:db8::1\"]"),
    ("allowed_sources", "[\"::/0\"]"),
    ("allowed_sources", "[\"300.1.1.1/99\"]"),
    ("allowed_sources", "[\"10.0.0.0/33\"]"),
    ("allowed_sources", "[\"10.0.0.5/24\"]"),
    ("allowed_sources", "[\"10.0.0/8\"]"),
    ("allowed_sources", "[\"010.0.0.0/8\"]"),
    ("allowed_sources", "[\"10.0.0.0/08\"]"),
    ("allowed_sources", "[\"office\"]"),
    ("allowed_sources", "[\"2001:db8::/129\"]"),
    ("allowed_sources", "[\"2001:db8:::/48\"]"),
    ("allowed_sources", "[\"::ffff:198.51.100.7\"]"),
    ("allowed_sources", "[\" 198.51.100.0/24\"]"),
    ("allowed_sources", "[\" *\"]"),
    ("allowed_sources", "\"198.51.100.0/24\""),
    ("max_duration", ""),
    ("max_duration", "\"3h\""),
    ("max_duration", "\"90m\""),
    ("max_duration", "\"1h30m\""),
    ("max_duration", "\"24h\""),
    ("max_duration", "\"1440m\""),
    ("max_duration", "\"PT3H\""),
    ("max_duration", "\"PT1H30M\""),
    ("max_duration", "\"P1D\""),
    ("max_duration", "\"5m\""),
    ("max_duration", "\"4m\""),
    ("max_duration", "\"0m\""),
    ("max_duration", "\"25h\""),
    ("max_duration", "\"1441m\""),
    ("max_duration", "\"48h\""),
    ("max_duration", "\"1d1h\""),
    ("max_duration", "\"P2D\""),
    ("max_duration", "\"3 hours\""),
    ("max_duration", "\"1.5h\""),
    ("max_duration", "\"3H\""),
    ("max_duration", "\"pt3h\""),
    ("max_duration", "\"45s\""),
    ("max_duration", "\"PT300S\""),
    ("max_duration", "\"P1W\""),
    ("max_duration", "\"-3h\""),
    ("max_duration", "\" 3h\""),
    ("max_duration", "\"3\""),
    ("max_duration", "3"),
];

/// `(attribute, value)` near misses, for the request file (with the base policy beside it).
const REQUEST_CASES: &[(&str, &str)] = &[
    ("ports", "[22]"),
    ("ports", "[]"),
    ("ports", "[70000]"),
    ("ports", "[\"rdp\"]"),
    ("ports", "\"ssh\""),
    ("source", "\"198.51.100.7\""),
    ("source", "\"198.51.100.0/24\""),
    ("source", "\"198.51.100.7/24\""),
    ("source", "\"203.0.113.9\""),
    ("source", "\"*\""),
    ("source", "\"300.1.1.1/99\""),
    ("source", "\"198.51.100.7/32, 10.0.0.1\""),
    ("source", "\"2001:db8::7\""),
    ("source", "\" 198.51.100.7\""),
    ("source", "\"* \""),
    ("start", "\"2026-11-25T14:00:00+01:00\""),
    ("start", "\"2026-11-25T14:00:00.5Z\""),
    ("start", "\"2026-11-25t14:00:00z\""),
    ("start", "\"2026-11-25T14:00:00Zgarbage\""),
    ("start", "\"2026-11-25 14:00:00Z\""),
    ("start", "\"2026-11-25T14:00Z\""),
    ("start", "\"2026-11-25T14:00:00\""),
    ("start", "\"2026-11-25T14:00:00+0100\""),
    ("start", "\"2026-13-01T00:00:00Z\""),
    ("start", "\"2026-11-31T00:00:00Z\""),
    ("start", "\"2026-02-30T00:00:00Z\""),
    ("start", "\"2026-11-25T24:00:00Z\""),
    ("start", "\"2026-11-25T14:60:00Z\""),
    ("start", "\"1969-12-31T23:59:59Z\""),
    ("start", "\"9999-06-01T00:00:00Z\""),
    ("start", "\"tomorrow\""),
    ("duration", "\"90m\""),
    ("duration", "\"1h30m\""),
    ("duration", "\"1d\""),
    ("duration", "\"P1D\""),
    ("duration", "\"PT3H\""),
    ("duration", "\"PT1H30M\""),
    ("duration", "\"24h\""),
    ("duration", "\"25h\""),
    ("duration", "\"1d1h\""),
    ("duration", "\"0m\""),
    ("duration", "\"3 hours\""),
    ("duration", "\"1.5h\""),
    ("duration", "\"3H\""),
    ("duration", "\"-2h\""),
    ("duration", "\"2h \""),
    ("duration", "\"120\""),
];

/// Refused by `jit validate`, accepted by the schema: checks a JSON Schema cannot make.
const SEMANTIC: &[(&str, &str, &str)] = &[
    ("destination", "\"10.0.1.4/24\"", "host bits set (E070): a regular expression cannot compare an address with its prefix length"),
    ("allowed_sources", "[\"10.0.0.5/24\"]", "host bits set (E070), as above"),
    ("source", "\"198.51.100.7/24\"", "host bits set (E070), as above"),
    ("source", "\"203.0.113.9\"", "outside the port's allowed_sources (E045): a check across blocks"),
    ("source", "\"*\"", "any source where the port allows less (E045): a check across blocks"),
    ("source", "\"2001:db8::7\"", "another address family than the destination (E071): a check across blocks"),
    ("ports", "[\"rdp\"]", "a port the target does not protect (E044): a check across blocks"),
    ("max_duration", "\"4m\"", "under 5 minutes (E025): the schema bounds each component, not the sum"),
    ("max_duration", "\"0m\"", "under 5 minutes (E025), as above"),
    ("max_duration", "\"1d1h\"", "over 24 hours in total (E025): the schema bounds each component, not the sum"),
    ("duration", "\"1d1h\"", "over the port's max_duration (E046): the sum, and a check across blocks"),
    ("duration", "\"0m\"", "not positive (E046): the schema bounds each component, not the sum"),
    ("start", "\"2026-11-31T00:00:00Z\"", "a day the month does not have (E022): calendar arithmetic"),
    ("start", "\"2026-02-30T00:00:00Z\"", "a day the month does not have (E022): calendar arithmetic"),
];

/// Accepted by `jit validate`, refused by the schema: spellings the schema does not describe.
const STRICTER: &[(&str, &str, &str)] = &[(
    "allowed_sources",
    "[\"::ffff:198.51.100.7\"]",
    "an IPv6 address with an embedded IPv4 address: the schema keeps to hexadecimal groups; write the IPv4 address",
)];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Policy,
    Request,
}

fn validator(file: &str) -> jsonschema::Validator {
    let text = std::fs::read_to_string(repo_path(file)).unwrap();
    let schema: Value = serde_json::from_str(&text).unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

/// `(validate accepts, schema accepts)` for one file text of `kind`.
fn judge(kind: Kind, text: &str, schema: &jsonschema::Validator) -> (bool, bool, String) {
    let base_policy = policy(&policy_values());
    let files: Vec<(&str, &str)> = match kind {
        Kind::Policy => vec![("policy.hcl", text)],
        Kind::Request => vec![
            ("policy.hcl", base_policy.as_str()),
            ("requests/INC-1-alice.hcl", text),
        ],
    };
    let dir = config_dir(&files);
    let run = TestCommand::new(dir.path(), &["validate", "--format", "json"]).run();
    assert!(
        run.code == 0 || run.code == 1,
        "validate crashed: {}",
        run.stderr
    );
    let doc: Value = hcl::from_str(text).unwrap();
    (run.code == 0, schema.is_valid(&doc), run.stdout)
}

#[test]
fn schema_and_validate_agree_on_near_misses() {
    let policy_schema = validator("schemas/policy.schema.json");
    let request_schema = validator("schemas/request.schema.json");

    // The base files are valid to both.
    for (kind, text, schema) in [
        (Kind::Policy, policy(&policy_values()), &policy_schema),
        (Kind::Request, request(&request_values()), &request_schema),
    ] {
        let (validate_ok, schema_ok, out) = judge(kind, &text, schema);
        assert!(validate_ok && schema_ok, "{kind:?} base: {out}\n{text}");
    }

    let mut disagreements = Vec::new();
    let mut seen = Vec::new();
    let cases = POLICY_CASES
        .iter()
        .map(|c| (Kind::Policy, c))
        .chain(REQUEST_CASES.iter().map(|c| (Kind::Request, c)));
    for (kind, &(key, value)) in cases {
        let (text, schema) = match kind {
            Kind::Policy => {
                let mut v = policy_values();
                v.insert(key, value.to_string());
                (policy(&v), &policy_schema)
            }
            Kind::Request => {
                let mut v = request_values();
                v.insert(key, value.to_string());
                (request(&v), &request_schema)
            }
        };
        let (validate_ok, schema_ok, out) = judge(kind, &text, schema);
        let listed =
            |list: &[(&str, &str, &str)]| list.iter().any(|(k, v, _)| *k == key && *v == value);
        let verdict = match (validate_ok, schema_ok) {
            (true, true) | (false, false) if listed(SEMANTIC) || listed(STRICTER) => {
                Some("listed as a disagreement, but both agree: take it off the list")
            }
            (true, true) | (false, false) => None,
            (false, true) if listed(SEMANTIC) => None,
            (false, true) => Some("the schema accepts what validate refuses"),
            (true, false) if listed(STRICTER) => None,
            (true, false) => Some("the schema refuses what validate accepts"),
        };
        if let Some(why) = verdict {
            disagreements.push(format!("{key} = {value}: {why}\n{out}"));
        }
        seen.push((key, value));
    }
    for (key, value, _) in SEMANTIC.iter().chain(STRICTER) {
        assert!(
            seen.contains(&(*key, *value)),
            "listed but not tested: {key} = {value}"
        );
    }
    assert!(
        disagreements.is_empty(),
        "{} disagreement(s):\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
}

/// docs/resources.md is generated from the resource schemas in the code;
/// `JIT_WRITE_DOCS=1 cargo test --test cli resources_doc` rewrites it.
#[test]
fn resources_doc_matches_the_schemas() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/resources.md");
    let generated = jit::resource::markdown(jit::platform::SCHEMAS);
    if std::env::var_os("JIT_WRITE_DOCS").is_some() {
        std::fs::write(path, &generated).unwrap();
    }
    let written = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        written == generated,
        "docs/resources.md is not what the schemas say; run \
         `JIT_WRITE_DOCS=1 cargo test --test cli resources_doc`"
    );
}
