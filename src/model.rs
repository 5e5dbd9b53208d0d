//! Plain data: the validated policy (settings, providers, targets with their protected ports)
//! and its grants. `lang` builds it from HCL; `compile` reads it. No behaviour beyond small
//! derived facts.

use std::fmt;

use ipnet::IpNet;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

/// Everything the config directory says, after validation.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Policy {
    pub settings: Settings,
    /// In file order.
    pub providers: Vec<ProviderDecl>,
    /// In file order.
    pub targets: Vec<Target>,
    /// Every request that passed validation, in file order. Whether a grant is *active* depends
    /// on the clock, which is an input to `compile`, not part of the policy.
    pub grants: Vec<Grant>,
    /// `accept` blocks that passed validation, in file order.
    pub accepts: Vec<Accept>,
}

impl Policy {
    pub fn target(&self, name: &str) -> Option<&Target> {
        self.targets.iter().find(|t| t.name == name)
    }

    pub fn provider(&self, address: &str) -> Option<&ProviderDecl> {
        self.providers.iter().find(|p| p.address() == address)
    }
}

/// The `settings` block, with defaults filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Managed rule names start with `<rule_prefix>-`.
    pub rule_prefix: String,
    pub allow_priority: PriorityBand,
    pub deny_priority: PriorityBand,
    pub approvals_required: u32,
    /// Regex source; validated when loaded.
    pub justification_pattern: Option<String>,
    /// The OpenSSH allowed_signers file, as written (relative to the config directory). When
    /// set, approvers count only through verified `approval` blocks.
    pub approval_signers: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            rule_prefix: "jit".to_string(),
            allow_priority: PriorityBand {
                low: 100,
                high: 199,
            },
            deny_priority: PriorityBand {
                low: 4000,
                high: 4095,
            },
            approvals_required: 0,
            justification_pattern: None,
            approval_signers: None,
        }
    }
}

/// An inclusive range of NSG priorities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriorityBand {
    pub low: u16,
    pub high: u16,
}

impl PriorityBand {
    pub fn contains(&self, priority: u16) -> bool {
        (self.low..=self.high).contains(&priority)
    }

    pub fn overlaps(&self, other: &PriorityBand) -> bool {
        self.low <= other.high && other.low <= self.high
    }
}

/// A `provider "<kind>" "<name>"` block.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderDecl {
    pub name: String,
    pub config: ProviderConfig,
}

impl ProviderDecl {
    /// `<kind>.<name>`, the form targets use to refer to it.
    pub fn address(&self) -> String {
        format!("{}.{}", self.config.kind(), self.name)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum ProviderConfig {
    Azure {
        subscription_id: String,
        mode: AzureMode,
        /// ARM base URL; `None` means the public cloud.
        endpoint: Option<String>,
    },
    Nftables {
        table: String,
    },
    Snapshot {
        /// As written, relative to the config directory.
        path: String,
    },
}

impl ProviderConfig {
    pub fn kind(&self) -> &'static str {
        match self {
            ProviderConfig::Azure { .. } => "azure",
            ProviderConfig::Nftables { .. } => "nftables",
            ProviderConfig::Snapshot { .. } => "snapshot",
        }
    }

    /// Whether applying through this kind changes a real firewall. Only then is the clock the
    /// machine's: `apply --at` far from now is refused. The snapshot provider is an offline
    /// rehearsal and may apply at any time. (Exhaustive on purpose: a new kind must choose.)
    pub fn changes_real_firewall(&self) -> bool {
        match self {
            ProviderConfig::Azure { .. } | ProviderConfig::Nftables { .. } => true,
            ProviderConfig::Snapshot { .. } => false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AzureMode {
    #[default]
    Nsg,
    Defender,
}

/// How an azure provider reads the NSGs a plan needs: the provider block's `read` attribute.
/// Resource Graph is a discovery read (it lags behind ARM): whatever a plan would change is
/// read again from ARM directly, whichever is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AzureRead {
    /// Resource Graph when more than a few dozen NSGs are referenced, else direct reads.
    #[default]
    Auto,
    /// Always discover through Resource Graph first.
    ResourceGraph,
    /// One ARM GET per NSG, never Resource Graph.
    Direct,
}

impl AzureRead {
    /// The spelling in a provider block.
    pub fn as_str(self) -> &'static str {
        match self {
            AzureRead::Auto => "auto",
            AzureRead::ResourceGraph => "resource_graph",
            AzureRead::Direct => "direct",
        }
    }
}

/// A machine whose management ports are protected.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub name: String,
    /// Address of its provider, `<kind>.<name>`.
    pub provider: String,
    pub vm_id: Option<String>,
    pub nsg_id: Option<String>,
    /// Destination address prefix of its rules; `*` by default.
    pub destination: String,
    /// In file order.
    pub ports: Vec<Port>,
}

impl Target {
    pub fn port(&self, name: &str) -> Option<&Port> {
        self.ports.iter().find(|p| p.name == name)
    }
}

/// A `port "<name>"` block inside a target.
#[derive(Debug, Clone, PartialEq)]
pub struct Port {
    pub name: String,
    pub number: u16,
    pub protocol: Protocol,
    /// Networks as written (a CIDR with host bits set is a validation error). `*`, any source,
    /// is held as the two whole families `0.0.0.0/0` and `::/0`, so containment needs no special
    /// case. Empty: no grant can open this port.
    pub allowed_sources: Vec<IpNet>,
    pub max_duration: SignedDuration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
    Any,
}

impl Protocol {
    /// The spelling Network security rules use.
    pub fn arm(&self) -> &'static str {
        match self {
            Protocol::Tcp => "Tcp",
            Protocol::Udp => "Udp",
            Protocol::Any => "*",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Any => "any",
        })
    }
}

/// A request that passed validation.
#[derive(Debug, Clone, PartialEq)]
pub struct Grant {
    /// The request's label, `request "<id>"`.
    pub id: String,
    pub target: String,
    /// Port *names* of the target (numbers in the file are resolved to names), in file order.
    pub ports: Vec<String>,
    /// The network as written; `source = "*"` is the whole family of the target's destination
    /// (`0.0.0.0/0`, or `::/0` for an IPv6 destination), which the plan warns about.
    pub source: IpNet,
    pub requester: String,
    /// Who approved: with `approval_signers`, the principals whose signed approvals verified
    /// (in block order); without it, the names the request lists.
    pub approvers: Vec<String>,
    pub justification: String,
    pub start: Timestamp,
    pub duration: SignedDuration,
}

impl Grant {
    /// `start + duration`. Validation keeps it in range; a grant built by hand that ends past
    /// the last representable instant ends there, never panics.
    pub fn end(&self) -> Timestamp {
        self.start
            .saturating_add(self.duration)
            .unwrap_or(Timestamp::MAX)
    }

    /// Active while `start <= now < start + duration`.
    pub fn is_active(&self, now: Timestamp) -> bool {
        self.start <= now && now < self.end()
    }
}

/// An `accept` block: a foreign rule opened on purpose. Until `expires`, a finding about it is
/// listed as accepted, not as one that needs attention; after, it is a finding again.
#[derive(Debug, Clone, PartialEq)]
pub struct Accept {
    /// The block's label, `accept "<name>"`.
    pub name: String,
    /// As written; a target names the same NSG (compared as ARM compares ids).
    pub nsg_id: String,
    /// The foreign rule's name (compared case-insensitively, as ARM does).
    pub rule: String,
    pub justification: String,
    pub expires: Timestamp,
    /// Where `expires` is written, for the warning once it has passed.
    pub expires_at: Place,
}

/// A place in a config file, as diagnostics show it: 1-based line and column, byte span.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Place {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub offset: usize,
    pub len: usize,
}
