//! Snapshot provider against Azure's official example payloads and hand-made exports.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use serde_json::{json, Value};

use super::*;
use crate::plan::ResourceChange;
use crate::plan::{ActionReason, Change};
use crate::platform::nsg::{Access, Direction};
use crate::providers::Batch;

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/azure-examples")
}

fn example(name: &str) -> Value {
    let path = examples_dir().join(name);
    let text =
        fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// Every response body of an example file.
fn bodies(name: &str) -> Vec<Value> {
    example(name)["responses"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(|r| r.get("body").cloned())
        .collect()
}

fn write_file(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("nsgs.json");
    fs::write(&path, text).unwrap();
    path
}

fn provider(path: &Path) -> SnapshotProvider {
    SnapshotProvider::new("snapshot.test", path)
}

fn managed(name: &str, priority: u16, source: &str) -> Rule {
    Rule {
        name: name.into(),
        priority,
        direction: Direction::Inbound,
        access: Access::Allow,
        protocol: "Tcp".into(),
        sources: vec![source.into()],
        source_ports: vec!["*".into()],
        destinations: vec!["10.0.1.4".into()],
        destination_ports: vec!["22".into()],
        source_asgs: vec![],
        destination_asgs: vec![],
        description: Some("managed-by=jit; request=r1; expires=2026-11-25T16:00:00Z".into()),
    }
}

fn change(
    nsg_id: &str,
    action: Action,
    before: Option<Rule>,
    after: Option<Rule>,
) -> ResourceChange {
    let name = after.as_ref().or(before.as_ref()).unwrap().name.clone();
    ResourceChange {
        address: format!("{}/{name}", name_from_id(nsg_id)),
        provider: "snapshot.test".into(),
        scope: nsg_id.into(),
        name,
        target: Some("web-1".into()),
        change: Change {
            actions: vec![action],
            before: before.map(|r| r.to_resource(nsg_id)),
            after: after.map(|r| r.to_resource(nsg_id)),
        },
        action_reason: ActionReason::RequestActive,
        reason: "test".into(),
        request: None,
    }
}

/// The fingerprints a plan would carry for the scopes of `changes`, read now.
fn fingerprints(p: &SnapshotProvider, changes: &[ResourceChange]) -> BTreeMap<String, String> {
    let ids: Vec<String> = changes.iter().map(|c| c.scope.clone()).collect();
    let live = p.read(&ids).unwrap();
    live.scopes
        .values()
        .map(|s| (s.id.clone(), s.fingerprint.clone()))
        .collect()
}

/// Applies with the fingerprints as read now, and collects every outcome in call order.
fn apply(p: &SnapshotProvider, changes: &[ResourceChange]) -> Vec<Outcome> {
    let fingerprints = fingerprints(p, changes);
    apply_with(p, changes, &fingerprints)
}

fn apply_with(
    p: &SnapshotProvider,
    changes: &[ResourceChange],
    fingerprints: &BTreeMap<String, String>,
) -> Vec<Outcome> {
    let seen = Mutex::new(Vec::new());
    let batch = Batch {
        changes,
        fingerprints,
        now: jiff::Timestamp::now(),
        read_at: None,
    };
    let returned = p
        .apply(batch, &|written| {
            let mut seen = seen.lock().unwrap();
            seen.extend(written.iter().map(|(_, o)| (*o).clone()));
        })
        .unwrap();
    let seen = seen.into_inner().unwrap();
    assert_eq!(seen.len(), changes.len(), "one outcome per change");
    assert_eq!(returned, seen, "outcomes in batch order");
    seen
}

/// The NSG `id` of `live`.
fn nsg_of<'a>(live: &'a Live, id: &str) -> crate::platform::nsg::LiveNsg<'a> {
    crate::platform::nsg::live_nsg(live.scope(id).expect("the NSG was read"))
}

const TESTNSG: &str =
    "/subscriptions/subid/resourceGroups/rg1/providers/Microsoft.Network/networkSecurityGroups/testnsg";

#[test]
fn every_official_nsg_example_loads() {
    let dir = tempfile::tempdir().unwrap();
    let mut loaded = 0;
    for file in [
        "network-NetworkSecurityGroupCreateWithRule.json",
        "network-NetworkSecurityGroupGet.json",
        "network-NetworkSecurityGroupList.json",
        "network-NetworkSecurityGroupListAll.json",
    ] {
        for body in bodies(file) {
            let path = write_file(dir.path(), &serde_json::to_string_pretty(&body).unwrap());
            let doc = Document::parse(&fs::read(&path).unwrap(), "x").unwrap();
            let ids: Vec<String> = doc
                .nsgs()
                .iter()
                .map(|n| nsg_id(n).unwrap().to_uppercase())
                .collect();
            assert!(!ids.is_empty(), "{file}");
            let live = provider(&path).read(&ids).unwrap();
            assert_eq!(live.scopes.len(), ids.len(), "{file}");
            for (nsg, value) in live
                .scopes
                .values()
                .map(crate::platform::nsg::live_nsg)
                .zip(doc.nsgs())
            {
                let expected = rules_of(value).unwrap().len();
                assert_eq!(nsg.rules.len(), expected, "{file}: {}", nsg.name);
                assert!(nsg.fingerprint.starts_with("sha256:") || !nsg.fingerprint.is_empty());
            }
            loaded += 1;
        }
    }
    assert!(loaded >= 5, "found only {loaded} NSG bodies");
}

#[test]
fn every_official_rule_example_loads_inside_an_nsg() {
    let dir = tempfile::tempdir().unwrap();
    for file in [
        "network-NetworkSecurityGroupRuleCreate.json",
        "network-NetworkSecurityGroupRuleGet.json",
        "network-NetworkSecurityGroupRuleList.json",
    ] {
        for body in bodies(file) {
            let rules = match body.get("value") {
                Some(Value::Array(list)) => list.clone(),
                _ => vec![body.clone()],
            };
            let nsg = json!({"id": TESTNSG, "name": "testnsg",
                "properties": {"securityRules": rules}});
            let path = write_file(dir.path(), &nsg.to_string());
            let live = provider(&path).read(&[TESTNSG.into()]).unwrap();
            assert_eq!(nsg_of(&live, TESTNSG).rules.len(), rules.len(), "{file}");
        }
    }
}

#[test]
fn raw_file_round_trips_byte_for_byte() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart/live/nsgs.json");
    let bytes = fs::read(&path).unwrap();
    let doc = Document::parse(&bytes, "quickstart").unwrap();
    assert_eq!(doc.form, TopForm::Wrapped);
    assert_eq!(
        String::from_utf8(doc.to_bytes()).unwrap(),
        String::from_utf8(bytes).unwrap()
    );

    let get = &bodies("network-NetworkSecurityGroupGet.json")[0];
    for text in [
        serde_json::to_string_pretty(get).unwrap(),
        serde_json::to_string(get).unwrap(),
        format!("[{}]\n", serde_json::to_string(get).unwrap()),
    ] {
        let doc = Document::parse(text.as_bytes(), "x").unwrap();
        assert_eq!(String::from_utf8(doc.to_bytes()).unwrap(), text);
    }
}

/// What `az network nsg list -o json` prints: flattened, keys sorted, four-space indent.
const FLAT: &str = r#"[
    {
        "etag": "W/\"00000000-0000-0000-0000-000000000001\"",
        "id": "/subscriptions/subid/resourceGroups/rg1/providers/Microsoft.Network/networkSecurityGroups/testnsg",
        "location": "westus",
        "name": "testnsg",
        "provisioningState": "Succeeded",
        "resourceGroup": "rg1",
        "securityRules": [
            {
                "access": "Allow",
                "destinationAddressPrefix": "*",
                "destinationAddressPrefixes": [],
                "destinationPortRange": "80",
                "destinationPortRanges": [],
                "direction": "Inbound",
                "etag": "W/\"00000000-0000-0000-0000-000000000001\"",
                "id": "/subscriptions/subid/resourceGroups/rg1/providers/Microsoft.Network/networkSecurityGroups/testnsg/securityRules/rule1",
                "name": "rule1",
                "priority": 130,
                "protocol": "*",
                "provisioningState": "Succeeded",
                "resourceGroup": "rg1",
                "sourceAddressPrefix": "*",
                "sourceAddressPrefixes": [],
                "sourcePortRange": "*",
                "sourcePortRanges": [],
                "type": "Microsoft.Network/networkSecurityGroups/securityRules"
            },
            {
                "access": "Allow",
                "description": "managed-by=jit; request=r1; expires=2026-11-25T16:00:00Z",
                "destinationAddressPrefix": "10.0.1.4",
                "destinationPortRange": "22",
                "direction": "Inbound",
                "id": "/subscriptions/subid/resourceGroups/rg1/providers/Microsoft.Network/networkSecurityGroups/testnsg/securityRules/jit-allow-r1-ssh",
                "name": "jit-allow-r1-ssh",
                "priority": 100,
                "protocol": "Tcp",
                "sourceAddressPrefix": "198.51.100.7/32",
                "sourcePortRange": "*",
                "x-team-note": {
                    "owner": "ops",
                    "tags": [
                        1,
                        2.5,
                        null
                    ]
                }
            }
        ],
        "type": "Microsoft.Network/networkSecurityGroups"
    }
]
"#;

#[test]
fn flattened_file_round_trips_byte_for_byte() {
    let doc = Document::parse(FLAT.as_bytes(), "flat").unwrap();
    assert_eq!(doc.form, TopForm::Array);
    assert_eq!(shape_of(&doc.nsgs()[0]), Shape::Flat);
    assert_eq!(String::from_utf8(doc.to_bytes()).unwrap(), FLAT);
    let live = doc.live_nsg(&doc.nsgs()[0]).unwrap();
    assert_eq!(
        live.fingerprint,
        "W/\"00000000-0000-0000-0000-000000000001\""
    );
    assert!(crate::platform::nsg::rules(&live)[1].rule.is_managed("jit"));
}

#[test]
fn apply_without_changes_leaves_the_file_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), FLAT);
    let p = provider(&path);
    // Deleting a rule that is already gone is a no-op that succeeds.
    let gone = change(
        TESTNSG,
        Action::Delete,
        Some(managed("jit-allow-old-ssh", 101, "*")),
        None,
    );
    assert_eq!(apply(&p, &[gone]), vec![Outcome::Applied]);
    assert_eq!(fs::read_to_string(&path).unwrap(), FLAT);
}

#[test]
fn flattened_apply_keeps_foreign_rules_unknown_fields_and_shape() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), FLAT);
    let p = provider(&path);
    let before = p.read(&[TESTNSG.into()]).unwrap();
    let old = nsg_of(&before, TESTNSG).rules[1].rule.clone();
    let mut updated = old.clone();
    updated.sources = vec!["198.51.100.0/28".into(), "198.51.100.64/28".into()];
    let created = managed("jit-deny-web-1-ssh", 4000, "*");
    let outcomes = apply(
        &p,
        &[
            change(TESTNSG, Action::Update, Some(old), Some(updated.clone())),
            change(TESTNSG, Action::Create, None, Some(created.clone())),
        ],
    );
    assert_eq!(outcomes, vec![Outcome::Applied, Outcome::Applied]);

    let original: Value = serde_json::from_str(FLAT).unwrap();
    let text = fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("[\n    {\n"), "indentation kept:\n{text}");
    let now: Value = serde_json::from_str(&text).unwrap();
    let rules = now[0]["securityRules"].as_array().unwrap();
    assert_eq!(rules.len(), 3);
    // The foreign rule keeps the same JSON value.
    assert_eq!(rules[0], original[0]["securityRules"][0]);
    // The managed rule keeps its unknown field and place; the pair is written the ARM way.
    assert_eq!(
        rules[1]["x-team-note"],
        original[0]["securityRules"][1]["x-team-note"]
    );
    assert_eq!(rules[1]["sourceAddressPrefix"], Value::Null);
    assert_eq!(
        rules[1]["sourceAddressPrefixes"],
        json!(["198.51.100.0/28", "198.51.100.64/28"])
    );
    // The new rule is appended, flattened, like Azure returns it.
    assert_eq!(rules[2]["name"], "jit-deny-web-1-ssh");
    assert_eq!(
        rules[2]["id"],
        format!("{TESTNSG}/securityRules/jit-deny-web-1-ssh")
    );
    assert_eq!(rules[2]["provisioningState"], "Succeeded");
    assert_eq!(rules[2]["priority"], 4000);
    assert!(rules[2].get("properties").is_none());
    // Azure gives the NSG and each written rule a new etag.
    assert_ne!(now[0]["etag"], original[0]["etag"]);
    assert_eq!(rules[2]["etag"], now[0]["etag"]);
    assert_eq!(rules[0]["etag"], original[0]["etag"]);
    // Everything else of the NSG is untouched.
    for key in [
        "id",
        "location",
        "name",
        "provisioningState",
        "resourceGroup",
        "type",
    ] {
        assert_eq!(now[0][key], original[0][key], "{key}");
    }

    let after = p.read(&[TESTNSG.into()]).unwrap();
    let nsg = nsg_of(&after, TESTNSG);
    assert_eq!(nsg.rules[1].rule, updated);
    assert_eq!(nsg.rules[2].rule, created);
    assert_ne!(nsg.fingerprint, nsg_of(&before, TESTNSG).fingerprint);
}

#[test]
fn raw_apply_creates_like_azure_and_deletes_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart/live/nsgs.json");
    let text = fs::read_to_string(src).unwrap();
    let path = write_file(dir.path(), &text);
    let p = provider(&path);
    let nsg1 = TESTNSG.replace("testnsg", "NSG1");
    let before = p.read(&[TESTNSG.into(), nsg1.clone()]).unwrap();
    let expired = nsg_of(&before, &nsg1).rules[0].rule.clone();
    let created = managed("jit-allow-INC-1-ssh", 100, "198.51.100.7/32");
    let outcomes = apply(
        &p,
        &[
            change(TESTNSG, Action::Create, None, Some(created.clone())),
            change(&nsg1, Action::Delete, Some(expired), None),
        ],
    );
    assert_eq!(outcomes, vec![Outcome::Applied, Outcome::Applied]);

    let original: Value = serde_json::from_str(&text).unwrap();
    let now: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    let rules = now["value"][0]["properties"]["securityRules"]
        .as_array()
        .unwrap();
    assert_eq!(
        rules[0],
        original["value"][0]["properties"]["securityRules"][0]
    );
    assert_eq!(
        rules[1]["id"],
        format!("{TESTNSG}/securityRules/jit-allow-INC-1-ssh")
    );
    assert_eq!(rules[1]["properties"]["provisioningState"], "Succeeded");
    assert_eq!(Rule::from_arm(&rules[1]).unwrap(), created);
    assert_eq!(now["value"][1]["properties"]["securityRules"], json!([]));
    assert_eq!(
        now["value"][1]["properties"]["defaultSecurityRules"],
        original["value"][1]["properties"]["defaultSecurityRules"]
    );
    // No etags in the file: the fingerprint is a hash of the rules, and it moved.
    let after = p.read(&[TESTNSG.into()]).unwrap();
    assert!(after
        .scope(TESTNSG)
        .map(crate::platform::nsg::live_nsg)
        .unwrap()
        .fingerprint
        .starts_with("sha256:"));
    assert_ne!(
        nsg_of(&after, TESTNSG).fingerprint,
        nsg_of(&before, TESTNSG).fingerprint
    );
}

#[test]
fn a_failed_change_skips_the_rest_of_its_nsg_only() {
    let dir = tempfile::tempdir().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart/live/nsgs.json");
    let path = write_file(dir.path(), &fs::read_to_string(src).unwrap());
    let p = provider(&path);
    let nsg1 = TESTNSG.replace("testnsg", "nsg1");
    // `rule1` is foreign: the provider refuses to touch it even if asked.
    let foreign = Rule::from_arm(&json!({"name": "rule1", "properties": {"protocol": "*",
        "access": "Allow", "priority": 130, "direction": "Inbound"}}))
    .unwrap();
    let outcomes = apply(
        &p,
        &[
            change(TESTNSG, Action::Delete, Some(foreign), None),
            change(
                TESTNSG,
                Action::Create,
                None,
                Some(managed("jit-x", 101, "*")),
            ),
            change(
                &nsg1,
                Action::Create,
                None,
                Some(managed("jit-y", 101, "*")),
            ),
            change(
                &nsg1,
                Action::Update,
                None,
                Some(managed("jit-missing", 102, "*")),
            ),
        ],
    );
    assert!(
        matches!(&outcomes[0], Outcome::Failed { message: m, .. } if m.contains("is not managed by jit; refusing to delete it"))
    );
    assert!(matches!(outcomes[1], Outcome::Skipped(_)));
    assert_eq!(outcomes[2], Outcome::Applied);
    assert!(
        matches!(&outcomes[3], Outcome::Failed { message: m, .. } if m.contains("no longer exists"))
    );
    let live = p.read(&[TESTNSG.into(), nsg1.clone()]).unwrap();
    assert_eq!(nsg_of(&live, TESTNSG).rules.len(), 1);
    assert_eq!(nsg_of(&live, &nsg1).rules.len(), 2);
}

#[test]
fn atomic_write_keeps_the_old_file_on_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), FLAT);
    let err = write_atomic(&path, |file| {
        file.write_all(b"[{\"half\": ")?;
        Err(io::Error::other("disk full"))
    })
    .unwrap_err();
    assert_eq!(err.to_string(), "disk full");
    assert_eq!(fs::read_to_string(&path).unwrap(), FLAT);
    let names: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        names,
        vec![std::ffi::OsString::from("nsgs.json")],
        "no temp file left"
    );

    write_atomic(&path, |file| file.write_all(b"[]\n")).unwrap();
    assert_eq!(fs::read_to_string(&path).unwrap(), "[]\n");
}

#[test]
fn a_write_failure_fails_every_change_and_keeps_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), FLAT);
    // A directory where the temporary file would go makes the write fail.
    fs::create_dir(
        dir.path()
            .join(format!(".nsgs.json.tmp-{}", std::process::id())),
    )
    .unwrap();
    let outcomes = apply(
        &provider(&path),
        &[change(
            TESTNSG,
            Action::Create,
            None,
            Some(managed("jit-z", 101, "*")),
        )],
    );
    assert!(
        matches!(&outcomes[0], Outcome::Failed { message: m, .. } if m.contains("cannot write snapshot"))
    );
    assert_eq!(fs::read_to_string(&path).unwrap(), FLAT);
}

#[test]
fn corrupt_and_missing_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "{\n  \"value\": [\n    {\"id\": \"x\",}\n  ]\n}",
            "invalid JSON at line 3, column 16",
        ),
        (
            "[{\"id\": \"/a/nsg\", \"securityRules\": [{\"name\": \"r\", \"access\": \"Allow\", \
          \"direction\": \"Inbound\", \"protocol\": \"*\"}]}]",
            "NSG `nsg`: rule `r`: missing `priority`",
        ),
        ("[{\"name\": \"n\"}]", "NSG #1 has no string `id`"),
        (
            "[{\"id\": \"/a/n\"}, {\"id\": \"/A/N\"}]",
            "NSG `/A/N` appears twice",
        ),
        (
            "{\"id\": \"/a/n\", \"properties\": {\"securityRules\": 3}}",
            "`securityRules` should be an array",
        ),
        ("42", "expected an NSG object"),
        ("", "invalid JSON at line 1, column 0"),
    ];
    for (text, expected) in cases {
        let path = write_file(dir.path(), text);
        // A wanted NSG whose rules cannot be read fails alone; a broken file fails the read.
        let message = match provider(&path).read(&["/a/nsg".into(), "/a/n".into()]) {
            Ok(live) => live
                .failed
                .values()
                .find(|why| !why.starts_with("NSG not found"))
                .cloned()
                .expect("the NSG in the file failed"),
            Err(err) => {
                assert!(
                    matches!(err, ProviderError::Corrupt { .. }),
                    "{text}: {err:?}"
                );
                err.to_string()
            }
        };
        assert!(message.contains(expected), "{text}: {message}");
        assert!(
            message.starts_with(&path.display().to_string()),
            "{message}"
        );
    }
    let err = provider(&dir.path().join("absent.json"))
        .read(&[])
        .unwrap_err();
    assert!(matches!(err, ProviderError::Io { .. }));
    assert!(err.to_string().contains("cannot read snapshot"), "{err}");
}

#[test]
fn ids_match_case_insensitively_and_unknown_ones_are_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), FLAT);
    let p = provider(&path);
    let live = p.read(&[TESTNSG.to_uppercase()]).unwrap();
    assert_eq!(live.scopes.len(), 1);
    assert_eq!(nsg_of(&live, TESTNSG).id, TESTNSG);
    // A missing NSG is that NSG's failure; the others are still read.
    let live = p.read(&[format!("{TESTNSG}-2"), TESTNSG.into()]).unwrap();
    assert_eq!(live.scopes.len(), 1);
    let why = &live.failed[&scope_key(&format!("{TESTNSG}-2"))];
    assert!(why.starts_with("NSG not found: "), "{why}");
}

#[test]
fn fingerprint_hashes_rules_when_there_is_no_etag() {
    let a = json!({"id": "/x/n", "properties": {"securityRules": [{"name": "r", "properties":
        {"priority": 100, "access": "Allow", "direction": "Inbound", "protocol": "*"}}]}});
    let mut b = a.clone();
    // Same value, other key order: same fingerprint.
    b["properties"]["securityRules"][0] = json!({"properties": {"protocol": "*",
        "direction": "Inbound", "access": "Allow", "priority": 100}, "name": "r"});
    let mut c = a.clone();
    c["properties"]["securityRules"][0]["properties"]["priority"] = json!(101);
    let fp = |v: &Value| {
        let doc = Document::parse(v.to_string().as_bytes(), "x").unwrap();
        doc.live_nsg(&doc.nsgs()[0]).unwrap().fingerprint
    };
    assert_eq!(fp(&a), fp(&b));
    assert_ne!(fp(&a), fp(&c));
    assert!(fp(&a).starts_with("sha256:"));
}

#[test]
fn fast_read_agrees_with_the_document() {
    let dir = tempfile::tempdir().unwrap();
    let quickstart = fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart/live/nsgs.json"),
    )
    .unwrap();
    let mut texts = vec![quickstart, FLAT.to_string()];
    for file in [
        "network-NetworkSecurityGroupCreateWithRule.json",
        "network-NetworkSecurityGroupGet.json",
        "network-NetworkSecurityGroupListAll.json",
    ] {
        texts.extend(bodies(file).iter().map(|b| b.to_string()));
    }
    for text in texts {
        let path = write_file(dir.path(), &text);
        let doc = Document::parse(text.as_bytes(), &path.display().to_string()).unwrap();
        let ids: Vec<String> = doc
            .nsgs()
            .iter()
            .map(|n| nsg_id(n).unwrap().into())
            .collect();
        let live = provider(&path).read(&ids).unwrap();
        for nsg in doc.nsgs() {
            let expected = doc.live_nsg(nsg).unwrap();
            assert_eq!(live.scope(&expected.id), Some(&expected));
        }
    }
}

#[test]
fn only_the_nsgs_asked_for_are_parsed() {
    let dir = tempfile::tempdir().unwrap();
    let text = json!([
        {"id": "/x/good", "securityRules": []},
        {"id": "/x/odd", "securityRules": [{"name": "r", "access": "Allow"}]}
    ])
    .to_string();
    let path = write_file(dir.path(), &text);
    let p = provider(&path);
    assert_eq!(p.read(&["/x/good".into()]).unwrap().scopes.len(), 1);
    let live = p.read(&["/x/odd".into(), "/x/good".into()]).unwrap();
    assert_eq!(live.scopes.len(), 1, "the good NSG is still read");
    let err = &live.failed[&scope_key("/x/odd")];
    assert!(
        err.contains("NSG `odd`: rule `r`: missing `priority`"),
        "{err}"
    );
}

#[test]
fn every_official_rule_round_trips_through_rule() {
    let mut seen = 0;
    for file in [
        "network-NetworkSecurityGroupCreateWithRule.json",
        "network-NetworkSecurityGroupGet.json",
        "network-NetworkSecurityGroupList.json",
        "network-NetworkSecurityGroupListAll.json",
        "network-NetworkSecurityGroupRuleCreate.json",
        "network-NetworkSecurityGroupRuleGet.json",
        "network-NetworkSecurityGroupRuleList.json",
    ] {
        for body in bodies(file) {
            let mut rules = Vec::new();
            let nsgs = match body.get("value") {
                Some(Value::Array(list)) => list.clone(),
                _ => vec![body.clone()],
            };
            for item in nsgs {
                match item["properties"].get("securityRules") {
                    Some(Value::Array(list)) => rules.extend(list.iter().cloned()),
                    _ if item["properties"].get("priority").is_some() => rules.push(item),
                    _ => {}
                }
            }
            for value in rules {
                let rule = Rule::from_arm(&value).unwrap();
                // Everything jit reads is written back with the same value.
                let written = rule.to_arm();
                for (key, v) in written["properties"].as_object().unwrap() {
                    let original = &value["properties"][key];
                    if !original.is_null() {
                        assert_eq!(original, v, "{file}: {} {key}", rule.name);
                    }
                }
                assert_eq!(Rule::from_arm(&written).unwrap(), rule, "{file}");
                seen += 1;
            }
        }
    }
    assert!(seen >= 5, "only {seen} official rules");
}

#[test]
fn apply_keeps_a_foreign_asg_rule_byte_for_byte_and_drops_a_stray_asg_of_a_managed_one() {
    const ASG: &str = "/subscriptions/subid/resourceGroups/rg1/providers/Microsoft.Network/applicationSecurityGroups/ops";
    let mut drifted = managed("jit-allow-r1-ssh", 100, "198.51.100.7/32").to_arm();
    drifted["properties"]["destinationApplicationSecurityGroups"] = json!([{"id": ASG}]);
    let foreign = json!({"name": "from-asg", "etag": "W/\"1\"", "properties": {
        "provisioningState": "Succeeded", "protocol": "*", "sourcePortRange": "*",
        "sourceApplicationSecurityGroups": [{"id": ASG, "location": "westus"}],
        "destinationPortRange": "22", "destinationAddressPrefix": "*", "access": "Allow",
        "priority": 200, "direction": "Inbound", "x-note": {"owner": "ops", "n": [1, null]}}});
    let text = format!(
        "{{\n  \"id\": \"{TESTNSG}\",\n  \"name\": \"testnsg\",\n  \"properties\": {{\n    \"securityRules\": [\n{},\n{}\n    ]\n  }}\n}}\n",
        serde_json::to_string_pretty(&foreign).unwrap(),
        serde_json::to_string_pretty(&drifted).unwrap()
    );
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), &text);
    let p = provider(&path);
    let live = p.read(&[TESTNSG.into()]).unwrap();
    let rules = &nsg_of(&live, TESTNSG).rules;
    assert_eq!(rules[0].rule.source_asgs, [ASG]);
    let before = rules[1].rule.clone();
    assert_eq!(before.destination_asgs, [ASG]);
    let after = managed("jit-allow-r1-ssh", 100, "198.51.100.7/32");
    let outcomes = apply(
        &p,
        &[change(
            TESTNSG,
            Action::Update,
            Some(before),
            Some(after.clone()),
        )],
    );
    assert_eq!(outcomes, vec![Outcome::Applied]);
    let written = fs::read_to_string(&path).unwrap();
    // The foreign rule is untouched, value and text.
    let doc: Value = serde_json::from_str(&written).unwrap();
    assert_eq!(doc["properties"]["securityRules"][0], foreign);
    let foreign_text = serde_json::to_string_pretty(&foreign)
        .unwrap()
        .lines()
        .map(|l| format!("      {l}"))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(written.contains(&foreign_text), "{written}");
    let now = p.read(&[TESTNSG.into()]).unwrap();
    let rules = &nsg_of(&now, TESTNSG).rules;
    assert_eq!(rules[1].rule, after, "the stray ASG is gone");
    assert_eq!(rules[0].rule.source_asgs, [ASG]);
}

#[test]
fn illegal_names_and_unmanaged_creates_are_refused_before_the_file_is_touched() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), FLAT);
    let before = fs::read(&path).unwrap();
    let p = provider(&path);
    let mut evil = managed("jit-x", 101, "*");
    evil.name = "../../x/securityRules/open-all".into();
    let mut traversal = change(TESTNSG, Action::Create, None, Some(evil));
    traversal.name = "../../x/securityRules/open-all".into();
    let legal = change(
        TESTNSG,
        Action::Create,
        None,
        Some(managed("jit-x", 101, "*")),
    );
    let mut unmarked = managed("jit-y", 102, "*");
    unmarked.description = None;
    let mut renamed = legal.clone();
    renamed.name = "jit-z".into();
    for (changes, expected) in [
        (
            vec![legal.clone(), traversal],
            "is not a legal security rule name",
        ),
        (
            vec![change(TESTNSG, Action::Create, None, Some(unmarked))],
            "is not managed by jit",
        ),
        (
            vec![change(
                TESTNSG,
                Action::Create,
                None,
                Some(managed("other-x", 101, "*")),
            )],
            "is not managed by jit",
        ),
        (vec![renamed], "its rule is named `jit-x`, not `jit-z`"),
    ] {
        let batch = Batch {
            changes: &changes,
            fingerprints: &BTreeMap::new(),
            now: jiff::Timestamp::now(),
            read_at: None,
        };
        let err = p.apply(batch, &|_| {}).unwrap_err().to_string();
        assert!(err.contains(expected), "{err}");
        assert!(err.contains("nothing was written"), "{err}");
        assert_eq!(fs::read(&path).unwrap(), before);
    }
}
