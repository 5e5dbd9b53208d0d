//! Where a JIT policy document lives ([`PolicyScope`]), Defender's naming limit, and why a
//! Defender change cannot be made ([`DefenderError`]): pure, shared by the platform and the
//! azure provider (which adds the ARM paths and the conversions from ARM's errors).

use std::fmt;

pub use crate::lang::defender::NAME_LIMIT;

/// Why a Defender call failed.
#[derive(Debug, Clone, PartialEq)]
pub enum DefenderError {
    /// A document that is not what Defender sends; `url` names it.
    Corrupt { url: String, message: String },
    /// What jit would write is not a valid policy (caught before any request).
    Invalid(String),
    /// The document changed since it was read: nothing was written.
    Stale { policy_id: String },
    /// ARM refused or could not be reached.
    Arm { code: String, message: String },
}

impl fmt::Display for DefenderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DefenderError::Corrupt { url, message } => write!(f, "{url}: {message}"),
            DefenderError::Invalid(m) => f.write_str(m),
            DefenderError::Stale { policy_id } => write!(
                f,
                "JIT policy `{policy_id}` changed since it was read; nothing was written; hint: plan again"
            ),
            DefenderError::Arm { message, .. } => f.write_str(message),
        }
    }
}

impl std::error::Error for DefenderError {}

/// One JIT policy document: where it lives.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PolicyScope {
    pub subscription_id: String,
    pub resource_group: String,
    /// Security's location name: lowercase, no spaces (`westeurope`).
    pub location: String,
    pub name: String,
}

/// Security's spelling of an ARM location (`West Europe` → `westeurope`).
pub fn location_name(location: &str) -> String {
    location
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase()
}

impl PolicyScope {
    /// The scope of VM `vm_id` (in `location`, as the VM body gives it) under `policy_name`.
    pub fn for_vm(vm_id: &str, location: &str, policy_name: &str) -> Option<PolicyScope> {
        let parts: Vec<&str> = vm_id.trim_end_matches('/').split('/').collect();
        let ok = parts.len() == 9
            && parts[1].eq_ignore_ascii_case("subscriptions")
            && parts[3].eq_ignore_ascii_case("resourceGroups")
            && parts[6].eq_ignore_ascii_case("Microsoft.Compute")
            && parts[7].eq_ignore_ascii_case("virtualMachines");
        ok.then(|| PolicyScope {
            subscription_id: parts[2].to_string(),
            resource_group: parts[4].to_string(),
            location: location_name(location),
            name: policy_name.to_string(),
        })
    }

    /// The policy's resource id.
    pub fn id(&self) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Security/locations/{}/jitNetworkAccessPolicies/{}",
            self.subscription_id, self.resource_group, self.location, self.name
        )
    }
}

/// Checks Defender's limit on policy name + VM name (`vm_name` alone, not the id).
pub fn check_name_length(policy_name: &str, vm_name: &str) -> Result<(), DefenderError> {
    if policy_name.len() + vm_name.len() > NAME_LIMIT {
        return Err(DefenderError::Invalid(format!(
            "policy name `{policy_name}` and VM name `{vm_name}` are {} characters together; Defender allows {NAME_LIMIT}",
            policy_name.len() + vm_name.len()
        )));
    }
    Ok(())
}
