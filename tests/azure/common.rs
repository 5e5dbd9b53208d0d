//! Fixtures shared by the azure tests: seeded NSGs, rules, changes and a provider wired to an
//! emulator with a static token.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use jiff::Timestamp;
use serde_json::{json, Value};

use jit::plan::{Action, ActionReason, Change, ResourceChange};
use jit::platform::nsg::Rule;
use jit::providers::azure::{
    AccessToken, AuthError, AzureOptions, AzureProvider, RetryPolicy, TokenProvider,
};
use jit::providers::Provider;

use crate::emulator::{Emulator, EmulatorConfig};

pub const SUB: &str = "subid";

pub fn nsg_id(name: &str) -> String {
    format!("/subscriptions/{SUB}/resourceGroups/rg1/providers/Microsoft.Network/networkSecurityGroups/{name}")
}

/// Foreign rules that must never change: Defender's, a hand-made one with the jit prefix but no
/// marker, and an ordinary allow.
pub fn foreign_rules(nsg: &str) -> Vec<Value> {
    let id = nsg_id(nsg);
    vec![
        json!({"name": "rule1", "id": format!("{id}/securityRules/rule1"), "properties": {
            "provisioningState": "Succeeded", "protocol": "*", "sourcePortRange": "*",
            "destinationPortRange": "80", "sourceAddressPrefix": "*", "destinationAddressPrefix": "*",
            "access": "Allow", "priority": 130, "direction": "Inbound"}}),
        json!({"name": "SecurityCenter-JITRule_-1234_ABCD", "id": format!("{id}/securityRules/SecurityCenter-JITRule_-1234_ABCD"),
            "properties": {"provisioningState": "Succeeded", "description": "MDC JIT Network Access rule for policy 'default' of VM 'web-1'.",
            "protocol": "*", "sourcePortRange": "*", "destinationPortRange": "22",
            "sourceAddressPrefix": "*", "destinationAddressPrefix": "10.0.1.4",
            "access": "Deny", "priority": 1000, "direction": "Inbound"}}),
        json!({"name": "jit-deny-handmade", "id": format!("{id}/securityRules/jit-deny-handmade"),
            "properties": {"provisioningState": "Succeeded", "description": "made by hand",
            "protocol": "Tcp", "sourcePortRange": "*", "destinationPortRange": "3389",
            "sourceAddressPrefix": "*", "destinationAddressPrefix": "*",
            "access": "Deny", "priority": 4090, "direction": "Inbound"}}),
    ]
}

/// An NSG in ARM raw shape holding `rules`.
pub fn nsg_body(name: &str, rules: Vec<Value>) -> Value {
    json!({
        "name": name,
        "id": nsg_id(name),
        "type": "Microsoft.Network/networkSecurityGroups",
        "location": "westus",
        "properties": {"provisioningState": "Succeeded", "securityRules": rules, "defaultSecurityRules": []}
    })
}

pub fn deny(name: &str, port: u16, priority: u16) -> Rule {
    Rule::from_arm(&json!({"name": name, "properties": {
        "description": "managed-by=jit", "protocol": "Tcp", "sourcePortRange": "*",
        "destinationPortRange": port.to_string(), "sourceAddressPrefix": "*",
        "destinationAddressPrefix": "10.0.1.4", "access": "Deny", "priority": priority,
        "direction": "Inbound"}}))
    .unwrap()
}

pub fn allow(name: &str, port: u16, priority: u16, source: &str) -> Rule {
    Rule::from_arm(&json!({"name": name, "properties": {
        "description": "managed-by=jit; request=INC-1; expires=2026-11-25T16:00:00Z",
        "protocol": "Tcp", "sourcePortRange": "*", "destinationPortRange": port.to_string(),
        "sourceAddressPrefix": source, "destinationAddressPrefix": "10.0.1.4",
        "access": "Allow", "priority": priority, "direction": "Inbound"}}))
    .unwrap()
}

pub fn change(
    nsg: &str,
    action: Action,
    before: Option<Rule>,
    after: Option<Rule>,
) -> ResourceChange {
    let name = after.as_ref().or(before.as_ref()).unwrap().name.clone();
    ResourceChange {
        address: format!("{nsg}/{name}"),
        provider: "azure.test".into(),
        scope: nsg_id(nsg),
        name,
        target: Some("web-1".into()),
        change: Change {
            actions: vec![action],
            before: before.map(|r| r.to_resource(&nsg_id(nsg))),
            after: after.map(|r| r.to_resource(&nsg_id(nsg))),
        },
        action_reason: ActionReason::LockDown,
        reason: "lock-down".into(),
        request: None,
    }
}

pub fn create(nsg: &str, rule: Rule) -> ResourceChange {
    change(nsg, Action::Create, None, Some(rule))
}

/// The emulator's static token, never expiring.
pub struct StaticToken(pub &'static str);

impl TokenProvider for StaticToken {
    fn name(&self) -> &'static str {
        "StaticToken"
    }
    fn token<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<AccessToken, AuthError>> {
        Box::pin(async move {
            Ok(AccessToken::new(
                self.0.to_string(),
                Timestamp::now() + jiff::SignedDuration::from_hours(1),
            ))
        })
    }
}

pub fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        min_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(50),
        max_retries: 4,
        max_wait: Duration::from_secs(30),
        max_throttled: 40,
    }
}

pub fn provider(emu: &Emulator) -> AzureProvider {
    AzureProvider::new(
        "azure.test".into(),
        SUB,
        Some(&emu.base_url()),
        AzureOptions {
            parallelism: 4,
            retry: fast_retry(),
            tokens: Some(Arc::new(StaticToken("test-token"))),
        },
    )
    .unwrap()
}

/// An emulator (fast clock, static token) seeded with `nsgs`, each holding the foreign rules.
pub fn emulator_with(config: EmulatorConfig, nsgs: &[&str]) -> Emulator {
    let emu = Emulator::start(config);
    for name in nsgs {
        emu.add_nsg(nsg_body(name, foreign_rules(name)));
    }
    emu
}

/// The rule named `name` in the emulator's NSG, as stored.
pub fn stored_rule(emu: &Emulator, nsg: &str, name: &str) -> Option<Value> {
    let body = emu.nsg(&nsg_id(nsg))?;
    body["properties"]["securityRules"]
        .as_array()?
        .iter()
        .find(|r| {
            r["name"]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
        .cloned()
}

/// Every foreign rule of the NSG is stored exactly as seeded (apart from the etag the
/// emulator added at seeding time, which must not have changed either).
pub fn assert_foreign_untouched(emu: &Emulator, nsg: &str, seeded: &[Value]) {
    for rule in foreign_rules(nsg) {
        let name = rule["name"].as_str().unwrap();
        let now = stored_rule(emu, nsg, name).unwrap_or_else(|| panic!("foreign rule {name} lost"));
        let before = seeded
            .iter()
            .find(|r| r["name"] == rule["name"])
            .expect("seeded rule");
        assert_eq!(&now, before, "foreign rule {name} changed");
    }
}

/// The rules of an NSG as the emulator stores them now.
pub fn stored_rules(emu: &Emulator, nsg: &str) -> Vec<Value> {
    emu.nsg(&nsg_id(nsg)).unwrap()["properties"]["securityRules"]
        .as_array()
        .unwrap()
        .clone()
}

/// The rule `name` of NSG `nsg` as the provider reads it now.
pub fn live_rule(p: &AzureProvider, nsg: &str, name: &str) -> Rule {
    let live = p.read(&[nsg_id(nsg)]).expect("the NSG reads");
    let scope = live.scope(&nsg_id(nsg)).expect("the NSG is in live state");
    let found = jit::platform::nsg::rules(scope)
        .iter()
        .find(|r| r.rule.name == name);
    found.expect("the rule exists").rule.clone()
}

/// A folder holding a stand-in `az` that prints a token the emulator accepts (put it first on
/// `PATH`).
pub fn stand_in_az() -> tempfile::TempDir {
    let bin = tempfile::tempdir().unwrap();
    let az = bin.path().join("az");
    let expires = jiff::Timestamp::now().as_second() + 3600;
    std::fs::write(
        &az,
        format!(
            "#!/bin/sh\n[ \"$1 $2\" = \"account get-access-token\" ] || exit 2\n\
             echo '{{\"accessToken\": \"test-token\", \"expires_on\": {expires}, \"tokenType\": \"Bearer\"}}'\n"
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&az, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    bin
}

thread_local! {
    /// The fingerprints of the last [`read`] on this thread: what a plan made from it carries.
    static LAST_READ: std::cell::RefCell<std::collections::BTreeMap<String, String>> =
        Default::default();
}

/// Reads like a plan does, remembering the fingerprints for [`batch_apply`].
pub fn read(
    p: &dyn jit::providers::Provider,
    ids: &[String],
) -> Result<jit::live::Live, jit::providers::ProviderError> {
    let live = p.read(ids)?;
    LAST_READ.with(|last| {
        let mut last = last.borrow_mut();
        for scope in live.scopes.values() {
            last.insert(scope.id.clone(), scope.fingerprint.clone());
        }
    });
    Ok(live)
}

/// The fingerprints of the last [`read`] on this thread, as a plan made from it carries them.
pub fn last_fingerprints() -> std::collections::BTreeMap<String, String> {
    LAST_READ.with(|last| last.borrow().clone())
}

/// Applies `changes` as a saved plan made from the last [`read`] would (every NSG read again
/// before it is written), calling `on_outcome` per change.
pub fn batch_apply(
    p: &dyn jit::providers::Provider,
    changes: &[ResourceChange],
    on_outcome: &jit::providers::OnOutcome<'_>,
) -> Result<Vec<jit::providers::Outcome>, jit::providers::ProviderError> {
    let fingerprints = LAST_READ.with(|last| last.borrow().clone());
    let outcomes = p.apply(
        jit::providers::Batch {
            changes,
            fingerprints: &fingerprints,
            now: jiff::Timestamp::now(),
            read_at: None,
        },
        on_outcome,
    );
    // The next plan is made from what this apply left behind.
    let touched: Vec<String> = changes.iter().map(|c| c.scope.clone()).collect();
    let _ = read(p, &touched);
    outcomes
}
