//! Grants as Defender sees them: the `POST …/initiate` body jit sends for a grant (the VM, its
//! ports, `endTimeUtc` = the grant's end, `allowedSourceAddressPrefix` = the request's
//! source, and a justification that carries the request id), and the recognition of grants
//! already initiated in the document's `requests[]`, by that id, so a grant is initiated once.
//!
//! Statuses and reasons are read as open strings: the official Initiate example answers
//! `Initiating`, a value the schema does not list.

use jiff::Timestamp;
use serde_json::{json, Value};

use super::policy::PolicyDocument;

/// The prefix that marks a justification as jit's: `jit request <id>: <justification>`.
const MARK: &str = "jit request ";

/// The justification jit sends: the request id first, where [`request_id_of`] finds it again,
/// then the request's own justification.
pub fn justification(request_id: &str, text: &str) -> String {
    format!("{MARK}{request_id}: {text}")
}

/// The request id a justification carries, when jit wrote it.
pub fn request_id_of(justification: &str) -> Option<&str> {
    let rest = justification.strip_prefix(MARK)?;
    let (id, _) = rest.split_once(": ").unwrap_or((rest, ""));
    (!id.is_empty() && !id.contains(char::is_whitespace)).then_some(id)
}

/// One grant to initiate on one VM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Initiate {
    pub vm_id: String,
    /// Port numbers, in order.
    pub ports: Vec<u16>,
    /// The grant's end.
    pub end: Timestamp,
    /// The request's source, as Defender writes it (`*`, `192.0.2.7`, `10.0.0.0/8`).
    pub source: String,
    pub request_id: String,
    pub justification: String,
}

impl Initiate {
    /// The `POST …/initiate` body.
    pub fn body(&self) -> Value {
        let ports: Vec<Value> = self
            .ports
            .iter()
            .map(|n| {
                json!({
                    "number": n,
                    "endTimeUtc": self.end.to_string(),
                    "allowedSourceAddressPrefix": self.source,
                })
            })
            .collect();
        json!({
            "virtualMachines": [{"id": self.vm_id, "ports": ports}],
            "justification": justification(&self.request_id, &self.justification),
        })
    }
}

/// What Defender's `requests[]` says of one grant's port on one VM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantState {
    /// No request of jit's carries the grant for this VM and port.
    NotInitiated,
    /// Initiated and open until `end` (Defender closes it then).
    Open { end: Option<Timestamp> },
    /// Closed by Defender: `reason` is its `statusReason` (`Expired`, `UserRequested`,
    /// `NewerRequestInitiated`, or another).
    Closed { reason: String },
}

/// The state of grant `request_id` on VM `vm_id`, port `port`, from the newest request of
/// jit's that names it. A request whose status is neither `Revoked` nor a known closed value
/// (`Initiated`, `Initiating`, anything new) counts as open.
pub fn grant_state(doc: &PolicyDocument, request_id: &str, vm_id: &str, port: u16) -> GrantState {
    let mut state = GrantState::NotInitiated;
    for request in doc.requests_raw() {
        let ours = request
            .get("justification")
            .and_then(Value::as_str)
            .and_then(request_id_of)
            .is_some_and(|id| id == request_id);
        if !ours {
            continue;
        }
        let vms = request
            .get("virtualMachines")
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice);
        let Some(entry) = vms
            .iter()
            .filter(|vm| {
                vm.get("id")
                    .and_then(Value::as_str)
                    .is_some_and(|id| id.eq_ignore_ascii_case(vm_id))
            })
            .flat_map(|vm| {
                vm.get("ports")
                    .and_then(Value::as_array)
                    .map_or(&[][..], Vec::as_slice)
            })
            .find(|p| p.get("number").and_then(Value::as_u64) == Some(u64::from(port)))
        else {
            continue;
        };
        let status = entry.get("status").and_then(Value::as_str).unwrap_or("");
        state = if status.eq_ignore_ascii_case("Revoked") {
            GrantState::Closed {
                reason: entry
                    .get("statusReason")
                    .and_then(Value::as_str)
                    .unwrap_or("unknown")
                    .to_string(),
            }
        } else {
            GrantState::Open {
                end: entry
                    .get("endTimeUtc")
                    .and_then(Value::as_str)
                    .and_then(|t| t.parse().ok()),
            }
        };
    }
    state
}

#[cfg(test)]
mod tests {
    use super::*;

    const VM1: &str = "/subscriptions/20ff7fc3-e762-44dd-bd96-b71116dcdc23/resourceGroups/myRg1/providers/Microsoft.Compute/virtualMachines/vm1";

    /// An official example payload, compiled in.
    macro_rules! example {
        ($file:literal) => {
            serde_json::from_str::<Value>(include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/azure-examples/",
                $file
            )))
            .unwrap()
        };
    }

    #[test]
    fn the_initiate_body_has_the_official_shape() {
        let grant = Initiate {
            vm_id: VM1.into(),
            ports: vec![3389],
            end: "2018-07-12T09:53:03.3658798Z".parse().unwrap(),
            source: "192.127.0.2".into(),
            request_id: "INC-7".into(),
            justification: "testing a new version of the product".into(),
        };
        let mut official = example!("security-InitiateJitNetworkAccessPolicy_example.json")
            ["parameters"]["body"]
            .clone();
        official["justification"] =
            json!("jit request INC-7: testing a new version of the product");
        assert_eq!(grant.body(), official);
    }

    #[test]
    fn justifications_carry_the_request_id() {
        assert_eq!(
            request_id_of(&justification("INC-1", "x: y")),
            Some("INC-1")
        );
        assert_eq!(request_id_of("jit request INC-2"), Some("INC-2"));
        assert_eq!(request_id_of("testing a new version of the product"), None);
        assert_eq!(request_id_of("jit request : x"), None);
    }

    fn doc_with(requests: Value) -> PolicyDocument {
        PolicyDocument::parse(
            "u",
            json!({"properties": {"virtualMachines": [], "requests": requests}}),
        )
        .unwrap()
    }

    fn request(id: &str, port: u16, status: &str, reason: &str) -> Value {
        json!({"virtualMachines": [{"id": VM1.to_uppercase(), "ports": [{"number": port, "allowedSourceAddressPrefix": "192.0.2.7", "endTimeUtc": "2026-12-01T13:00:00Z", "status": status, "statusReason": reason}]}],
               "startTimeUtc": "2026-12-01T12:00:00Z", "requestor": "ci@example.com", "justification": justification(id, "deploy")})
    }

    #[test]
    fn initiated_grants_are_recognised_by_id_vm_and_port() {
        // The official document's request is someone else's (no id): not jit's.
        let official = PolicyDocument::parse(
            "u",
            example!("security-GetJitNetworkAccessPolicy_example.json")["responses"]["200"]["body"]
                .clone(),
        )
        .unwrap();
        assert_eq!(
            grant_state(&official, "INC-1", VM1, 3389),
            GrantState::NotInitiated
        );
        let doc = doc_with(json!([request("INC-1", 22, "Initiated", "UserRequested")]));
        assert_eq!(
            grant_state(&doc, "INC-1", VM1, 22),
            GrantState::Open {
                end: Some("2026-12-01T13:00:00Z".parse().unwrap())
            }
        );
        assert_eq!(
            grant_state(&doc, "INC-1", VM1, 3389),
            GrantState::NotInitiated
        );
        assert_eq!(
            grant_state(&doc, "INC-10", VM1, 22),
            GrantState::NotInitiated
        );
        let doc = doc_with(json!([
            request("INC-1", 22, "Initiating", "UserRequested"),
            request("INC-1", 22, "Revoked", "Expired")
        ]));
        assert_eq!(
            grant_state(&doc, "INC-1", VM1, 22),
            GrantState::Closed {
                reason: "Expired".into()
            }
        );
    }
}
