//! JSON Schemas of jit's config files, for editors and for checks outside jit. Pure.
//!
//! A schema describes a file in HCL's JSON form: the value `hcl::from_str::<serde_json::Value>`
//! gives for it. Blocks become objects keyed by their labels, so
//! `target "web-1" { port "ssh" { number = 22 } }` is
//! `{"target": {"web-1": {"port": {"ssh": {"number": 22}}}}}` and
//! `provider "azure" "prod" { … }` is `{"provider": {"azure": {"prod": {…}}}}`. A second
//! `settings` block, or two blocks with the same labels, turn into arrays, which the schemas
//! reject just as jit does.
//!
//! Two kinds of file, told apart by their top-level blocks:
//!
//! - a **request file** holds only `request` blocks (at least one) and their `approval` blocks;
//! - a **policy file** holds `settings`, `provider`, `target` and `accept` blocks and no
//!   `request`.
//!
//! jit itself reads every block of every file and does not care how they are split, so a file
//! mixing policy blocks and requests is valid to `jit validate` but matches neither schema:
//! keep requests in their own files (the convention is `requests/<id>.hcl`, one per change,
//! so each pull request adds one file). [`FileKind::of`] applies the rule above;
//! [`config_schema`] accepts either kind.
//!
//! The schemas check shapes, names, `enum`s (protocol, azure mode, provider kinds), ranges and
//! the value forms with anchored patterns (CIDRs, durations, RFC 3339 times, resource ids), and
//! carry `default`s (the well-known ports' numbers, `protocol`, `max_duration`), `examples`
//! and an `$id`. They are looser than `jit validate` only where a check needs arithmetic or
//! more than one value (host bits, a duration's components adding up, calendar days, a
//! request's source inside a port's allowed sources, references between blocks): the test in
//! tests/cli/schema_agreement.rs lists each such case with the reason. `jit schema <kind>` prints them; `schemas/` keeps a copy that a
//! test compares with the code.

use std::collections::BTreeMap;

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema};
use serde::{Deserialize, Serialize};

// Pieces of the patterns below, as literals so that `concat!` can join them.
/// An IPv4 address as Rust reads it: four decimal octets 0–255, no leading zeros.
macro_rules! ipv4 {
    () => {
        r"((25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
    };
}
/// An IPv6 address in hexadecimal groups, `::` compression included (embedded IPv4 forms such
/// as `::ffff:192.0.2.1` are left out: the schema is stricter there than `jit validate`).
macro_rules! ipv6 {
    () => {
        concat!(
            r"(([0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}",
            r"|([0-9A-Fa-f]{1,4}:){1,7}:",
            r"|([0-9A-Fa-f]{1,4}:){1,6}:[0-9A-Fa-f]{1,4}",
            r"|([0-9A-Fa-f]{1,4}:){1,5}(:[0-9A-Fa-f]{1,4}){1,2}",
            r"|([0-9A-Fa-f]{1,4}:){1,4}(:[0-9A-Fa-f]{1,4}){1,3}",
            r"|([0-9A-Fa-f]{1,4}:){1,3}(:[0-9A-Fa-f]{1,4}){1,4}",
            r"|([0-9A-Fa-f]{1,4}:){1,2}(:[0-9A-Fa-f]{1,4}){1,5}",
            r"|[0-9A-Fa-f]{1,4}:(:[0-9A-Fa-f]{1,4}){1,6}",
            r"|:((:[0-9A-Fa-f]{1,4}){1,7}|:))"
        )
    };
}
/// `*`, or an IPv4 or IPv6 address with an optional prefix length of its family.
macro_rules! cidr {
    () => {
        concat!(
            r"^(\*|",
            ipv4!(),
            r"(/(3[0-2]|[12]?[0-9]))?|",
            ipv6!(),
            r"(/(12[0-8]|1[01][0-9]|[1-9]?[0-9]))?)$"
        )
    };
}
/// Whole days 0–1, hours 0–24, minutes 0–1440 (leading zeros allowed): no single component
/// of a duration jit accepts is larger.
macro_rules! days {
    () => {
        r"0*[01]"
    };
}
macro_rules! hours {
    () => {
        r"0*(2[0-4]|1?[0-9])"
    };
}
macro_rules! minutes {
    () => {
        r"0*(1440|14[0-3][0-9]|1[0-3][0-9]{2}|[1-9]?[0-9]{1,2})"
    };
}
/// A case-insensitive word, as ARM compares resource types.
macro_rules! arm_id {
    ($provider:literal, $kind:literal) => {
        concat!(
            r"^/[Ss][Uu][Bb][Ss][Cc][Rr][Ii][Pp][Tt][Ii][Oo][Nn][Ss]/\S*/[Pp][Rr][Oo][Vv][Ii][Dd][Ee][Rr][Ss]/",
            $provider,
            "/",
            $kind,
            r"/[^/\s]+$"
        )
    };
}

/// CIDR (`198.51.100.0/24`, `2001:db8::/48`), a single address, or `*` (any source, written
/// out). Host bits set (`10.0.0.5/24`) is left to `jit validate` (E070).
const CIDR: &str = cidr!();
/// Exactly the documented duration forms, `90m`, `3h`, `1h30m`, `1d`, ISO 8601 `PT3H`,
/// `PT1H30M`, `P1D`, with no component over 24 hours. Whether the components together stay
/// within 24 hours is left to `jit validate`.
const DURATION: &str = concat!(
    "^((",
    days!(),
    "d(",
    hours!(),
    "h)?(",
    minutes!(),
    "m)?|",
    hours!(),
    "h(",
    minutes!(),
    "m)?|",
    minutes!(),
    "m)|P(",
    days!(),
    "D(T(",
    hours!(),
    "H(",
    minutes!(),
    "M)?|",
    minutes!(),
    "M))?|T(",
    hours!(),
    "H(",
    minutes!(),
    "M)?|",
    minutes!(),
    "M)))$"
);
/// RFC 3339 with an offset, `2026-11-25T14:00:00Z`, in 1970–9998, each field in its range.
/// Calendar days (February 30) and offsets that move a time out of range are left to `jit
/// validate`.
const TIME: &str = concat!(
    r"^(19[7-9][0-9]|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])",
    r"-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])",
    r"[Tt]([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?",
    r"([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$"
);
/// An NSG's resource id, as `jit validate` reads it.
const NSG_ID: &str = arm_id!(
    r"[Mm][Ii][Cc][Rr][Oo][Ss][Oo][Ff][Tt]\.[Nn][Ee][Tt][Ww][Oo][Rr][Kk]",
    r"[Nn][Ee][Tt][Ww][Oo][Rr][Kk][Ss][Ee][Cc][Uu][Rr][Ii][Tt][Yy][Gg][Rr][Oo][Uu][Pp][Ss]"
);
/// A VM's resource id, as `jit validate` reads it.
const VM_ID: &str = arm_id!(
    r"[Mm][Ii][Cc][Rr][Oo][Ss][Oo][Ff][Tt]\.[Cc][Oo][Mm][Pp][Uu][Tt][Ee]",
    r"[Vv][Ii][Rr][Tt][Uu][Aa][Ll][Mm][Aa][Cc][Hh][Ii][Nn][Ee][Ss]"
);
/// An ARM security rule name: 1–80 word characters, `.` or `-`, ending with a word character.
const RULE_NAME: &str = r"^[A-Za-z0-9_]([A-Za-z0-9_.-]{0,78}[A-Za-z0-9_])?$";
/// `<kind>.<name>` of a provider block.
const PROVIDER_ADDRESS: &str = r"^(azure|nftables|snapshot)\.[^.]+$";
/// The SSHSIG PEM armour, whatever the indentation.
const SIGNATURE: &str = r"^\s*-----BEGIN SSH SIGNATURE-----[\s\S]*-----END SSH SIGNATURE-----\s*$";
/// The `$id`s of the schemas: URNs, since jit hosts no schema online; editors map files to the
/// copies in `schemas/` (or `jit schema`).
const POLICY_ID: &str = "urn:jit:schema:policy";
const REQUEST_ID: &str = "urn:jit:schema:request";
const CONFIG_ID: &str = "urn:jit:schema:config";
/// Letters, digits, `_`, `.`, `-`; starts with a letter or digit; at most 24 characters.
const RULE_PREFIX: &str = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,23}$";

/// A policy file: settings, providers and the targets whose ports jit protects.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "jit policy file")]
pub struct PolicyFile {
    /// Global settings; at most one `settings` block in the whole config directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "SettingsBlock")]
    pub settings: Option<SettingsBlock>,
    /// `provider "<kind>" "<name>" { … }`: where live state is read and written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "ProviderBlocks")]
    pub provider: Option<ProviderBlocks>,
    /// `target "<name>" { … }`: machines whose management ports are protected, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub target: BTreeMap<String, TargetBlock>,
    /// `accept "<name>" { … }`: foreign rules opened on purpose, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub accept: BTreeMap<String, AcceptBlock>,
}

/// A request file: time-bound asks for access, usually one per file.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "jit request file")]
pub struct RequestFile {
    /// `request "<id>" { … }`, by id (such as `INC-4211-alice`).
    #[schemars(extend("minProperties" = 1))]
    pub request: BTreeMap<String, RequestBlock>,
    /// `approval "<request id>" { … }`: signed approvals of the requests, by request id
    /// (`jit approve` appends them to the request's file).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub approval: BTreeMap<String, ApprovalBlock>,
}

/// `approval "<request id>"`: an SSH signature (namespace `jit-approval`) over the request's
/// approval message (`jit approve ID --message`), verified against `approval_signers`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalBlock {
    /// The principal who signed, as the allowed_signers file lists them.
    #[schemars(length(min = 1))]
    pub by: String,
    /// The SSHSIG armour `ssh-keygen -Y sign -n jit-approval` prints, usually a heredoc.
    #[schemars(pattern(SIGNATURE))]
    pub signature: String,
}

/// Either kind of config file.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
#[schemars(title = "jit config file")]
pub enum ConfigFile {
    Request(RequestFile),
    Policy(PolicyFile),
}

/// The `settings` block.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsBlock {
    /// Managed rule names start with `<rule_prefix>-`. Default `jit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String", pattern(RULE_PREFIX))]
    pub rule_prefix: Option<String>,
    /// Band of priorities for temporary allow rules, `[low, high]` inclusive. Default
    /// `[100, 199]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "[Priority; 2]")]
    pub allow_priority: Option<[Priority; 2]>,
    /// Band of priorities for lock-down deny rules, `[low, high]` inclusive. Default
    /// `[4000, 4095]`; must not overlap `allow_priority`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "[Priority; 2]")]
    pub deny_priority: Option<[Priority; 2]>,
    /// Approvers needed on each request. Default 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "u32", range(max = 100))]
    pub approvals_required: Option<u32>,
    /// Regular expression (Rust `regex` syntax) every justification must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String", extend("format" = "regex"))]
    pub justification_pattern: Option<String>,
    /// OpenSSH allowed_signers file (ssh-keygen(1)), relative to the config directory. When
    /// set, an approver counts only through a verified `approval` block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub approval_signers: Option<String>,
}

/// An NSG rule priority.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct Priority(#[schemars(range(min = 100, max = 4096))] pub u16);

/// Provider blocks by kind, then by name.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("propertyNames" = {"enum": ["azure", "nftables", "snapshot"]}))]
pub struct ProviderBlocks {
    /// `provider "azure" "<name>"`: Azure NSGs through ARM, or Defender for Cloud JIT.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub azure: BTreeMap<String, AzureProvider>,
    /// `provider "nftables" "<name>"`: a table of this host's nftables.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub nftables: BTreeMap<String, NftablesProvider>,
    /// `provider "snapshot" "<name>"`: an ARM-shaped JSON file of NSGs, read and written.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub snapshot: BTreeMap<String, SnapshotProvider>,
}

/// How jit opens ports on Azure.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AzureMode {
    // Allow and deny rules written into each target's NSG. (Plain comments: doc comments
    // on the variants would turn the `enum` into a `oneOf`.)
    Nsg,
    // Defender for Cloud JIT policies, initiated per grant.
    Defender,
}

/// `provider "azure" "<name>"`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AzureProvider {
    /// The subscription's id, such as `00000000-0000-0000-0000-000000000000`.
    #[schemars(
        length(min = 1),
        pattern(r"^[^/\s]+$"),
        example = &"00000000-0000-0000-0000-000000000000"
    )]
    pub subscription_id: String,
    /// `nsg` (default) or `defender`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "AzureMode", extend("default" = "nsg"))]
    pub mode: Option<AzureMode>,
    /// ARM base URL; default `https://management.azure.com` (override for sovereign clouds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String", pattern(r"^https?://\S+$"))]
    pub endpoint: Option<String>,
    /// How NSGs are read: `auto` (default; Resource Graph when more than a few dozen NSGs are
    /// referenced), `resource_graph` or `direct` (one ARM GET per NSG). Resource Graph lags
    /// behind ARM, so every NSG a plan would change is read again from ARM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "AzureReadMode", extend("default" = "auto"))]
    pub read: Option<AzureReadMode>,
}

/// An azure provider's `read` mode.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AzureReadMode {
    /// Resource Graph when more than a few dozen NSGs are referenced, else direct reads.
    Auto,
    /// Discover through Resource Graph, then read what would change from ARM.
    ResourceGraph,
    /// One ARM GET per NSG.
    Direct,
}

/// `provider "nftables" "<name>"`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NftablesProvider {
    /// Table in family `inet` that jit owns on this host.
    #[schemars(length(min = 1))]
    pub table: String,
}

/// `provider "snapshot" "<name>"`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SnapshotProvider {
    /// JSON file of NSGs, relative to the config directory.
    #[schemars(length(min = 1))]
    pub path: String,
}

/// `target "<name>"`: one machine whose ports are protected.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetBlock {
    /// The provider's address, `<kind>.<name>`, such as `azure.prod`.
    #[schemars(pattern(PROVIDER_ADDRESS), example = &"azure.prod")]
    pub provider: String,
    /// The VM's resource id; needed in azure `defender` mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        with = "String",
        pattern(VM_ID),
        example = &"/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/prod/providers/Microsoft.Compute/virtualMachines/web-1"
    )]
    pub vm_id: Option<String>,
    /// The NSG's resource id; needed in azure `nsg` mode and for snapshot targets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        with = "String",
        pattern(NSG_ID),
        example = &"/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/prod/providers/Microsoft.Network/networkSecurityGroups/web-1-nsg"
    )]
    pub nsg_id: Option<String>,
    /// Destination address prefix of the rules (the VM's private IP or a CIDR); default `*`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        with = "String",
        pattern(CIDR),
        extend("default" = "*"),
        example = &"10.0.1.4"
    )]
    pub destination: Option<String>,
    /// `port "<name>" { … }`: the protected ports, by name. The well-known names `ssh`, `rdp`,
    /// `winrm` and `winrm-https` fill in `number` and `protocol`; any other name needs
    /// `number`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(schema_with = "port_blocks")]
    pub port: BTreeMap<String, PortBlock>,
}

/// The `port` blocks of a target: each well-known name with its defaults, any other name with
/// `number` required.
fn port_blocks(generator: &mut schemars::SchemaGenerator) -> Schema {
    let any = generator.subschema_for::<PortBlock>();
    let known = generator.subschema_for::<WellKnownPortBlock>();
    let mut properties = serde_json::Map::new();
    for (name, number, protocol) in super::WELL_KNOWN_PORTS {
        properties.insert(
            name.to_string(),
            serde_json::json!({
                "$ref": known.as_value()["$ref"],
                "description": format!("`port \"{name}\"`: number {number} and protocol {protocol} unless written."),
                "properties": {
                    "number": {"default": number},
                    "protocol": {"default": protocol.to_string()},
                },
            }),
        );
    }
    schemars::json_schema!({
        "type": "object",
        "properties": properties,
        "additionalProperties": any,
    })
}

/// A port's protocol.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ProtocolName {
    // Plain comments: doc comments on the variants would turn the `enum` into a `oneOf`.
    Tcp,
    Udp,
    // tcp and udp; Azure's `*`.
    Any,
}

/// `port "<name>"` inside a target: closed except while a grant is active.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PortBlock {
    /// Port number, 1–65535.
    #[schemars(range(min = 1, max = 65535), example = 22)]
    pub number: u16,
    /// `tcp` (default), `udp` or `any`, in lower case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "ProtocolName", extend("default" = "tcp"))]
    pub protocol: Option<ProtocolName>,
    /// Networks a grant's source must lie in (IPv4 or IPv6 CIDRs, host bits clear), or `*` for
    /// any source. Default: none, so no grant can open the port.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(inner(pattern(CIDR)), example = ["203.0.113.0/24", "2001:db8::/48"], example = ["*"])]
    pub allowed_sources: Vec<String>,
    /// Longest grant, between 5 minutes and 24 hours: `90m`, `3h`, `1h30m`, `1d` or ISO 8601
    /// `PT3H`, `PT1H30M`, `P1D`. Default `3h`, as in Defender for Cloud.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        with = "String",
        pattern(DURATION),
        extend("default" = "3h"),
        example = &"3h",
        example = &"PT1H30M"
    )]
    pub max_duration: Option<String>,
}

/// `port "ssh"`, `"rdp"`, `"winrm"`, `"winrm-https"`: a well-known port, whose `number` and
/// `protocol` jit fills in when they are not written (an explicit value wins).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WellKnownPortBlock {
    /// Port number, 1–65535; default the name's (`ssh` 22, `rdp` 3389, `winrm` 5985,
    /// `winrm-https` 5986).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "u16", range(min = 1, max = 65535))]
    pub number: Option<u16>,
    /// `tcp` (default), `udp` or `any`, in lower case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "ProtocolName", extend("default" = "tcp"))]
    pub protocol: Option<ProtocolName>,
    /// As in any `port` block.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(inner(pattern(CIDR)), example = ["*"])]
    pub allowed_sources: Vec<String>,
    /// As in any `port` block; default `3h`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String", pattern(DURATION), extend("default" = "3h"), example = &"3h")]
    pub max_duration: Option<String>,
}

/// `request "<id>"`: who needs which ports of a target, from where, when, for how long and
/// why, approved by whom.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestBlock {
    /// Name of the target.
    #[schemars(length(min = 1), example = &"web-1")]
    pub target: String,
    /// The target's ports, by name (`"ssh"`) or number (`22`).
    #[schemars(length(min = 1), example = serde_json::json!(["ssh", 3389]))]
    pub ports: Vec<PortRef>,
    /// Source network (CIDR with host bits clear, or a single address) of the destination's
    /// address family, or `*`; must lie inside one of each port's `allowed_sources`.
    #[schemars(pattern(CIDR), example = &"198.51.100.7/32")]
    pub source: String,
    /// Who asks; never one of the approvers.
    #[schemars(length(min = 1), example = &"alice@example.com")]
    pub requester: String,
    /// Who approved; at least `approvals_required` of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(inner(length(min = 1)))]
    pub approvers: Vec<String>,
    /// Why; must match `justification_pattern` when one is set.
    #[schemars(length(min = 1), example = &"INC-4211 investigate failed deploy")]
    pub justification: String,
    /// When the grant opens, RFC 3339 with an offset (`2026-11-25T14:00:00Z`).
    #[schemars(with = "String", pattern(TIME), example = &"2026-11-25T14:00:00Z")]
    pub start: String,
    /// How long it stays open: `90m`, `2h`, `1h30m`, `1d` or ISO 8601 `PT2H`, `PT1H30M`,
    /// `P1D`; at most every requested port's `max_duration`.
    #[schemars(with = "String", pattern(DURATION), example = &"2h")]
    pub duration: String,
}

/// `accept "<name>"`: a foreign rule opened on purpose. Until `expires` an exposure through it
/// is listed as accepted, not as a finding.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptBlock {
    /// The NSG's resource id, as a target's `nsg_id` names it.
    #[schemars(length(min = 1), pattern(NSG_ID))]
    pub nsg_id: String,
    /// The foreign rule's name, as the NSG shows it.
    #[schemars(pattern(RULE_NAME))]
    pub rule: String,
    /// Why the rule is open; must match `justification_pattern` when one is set.
    #[schemars(length(min = 1))]
    pub justification: String,
    /// When the acceptance ends, RFC 3339 with an offset (`2027-01-31T00:00:00Z`).
    #[schemars(with = "String", pattern(TIME), example = &"2027-01-31T00:00:00Z")]
    pub expires: String,
}

/// A port of the target, by name or number.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum PortRef {
    /// A `port` block's name.
    Name(#[schemars(length(min = 1))] String),
    /// A `port` block's number.
    Number(#[schemars(range(min = 1, max = 65535))] u16),
}

/// The two kinds of config file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// `settings`, `provider`, `target` and `accept` blocks.
    Policy,
    /// `request` blocks, with their `approval` blocks if any.
    Request,
}

impl FileKind {
    /// The kind of a file in HCL's JSON form: a request file when it has `request` blocks and
    /// nothing else but `approval` blocks, a policy file otherwise.
    pub fn of(file: &serde_json::Value) -> FileKind {
        match file.as_object() {
            Some(top)
                if top.contains_key("request")
                    && top.keys().all(|k| k == "request" || k == "approval") =>
            {
                FileKind::Request
            }
            _ => FileKind::Policy,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            FileKind::Policy => "policy",
            FileKind::Request => "request",
        }
    }
}

/// The root schema of `T`, with its `$id`. (Set here, not on the type: the config schema
/// holds the other two as subschemas, and an `$id` there would rebase their references.)
fn generate<T: JsonSchema>(id: &str) -> Schema {
    let mut schema = SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<T>();
    schema.insert("$id".to_string(), id.into());
    schema
}

/// The schema of one kind of file.
pub fn schema(kind: FileKind) -> Schema {
    match kind {
        FileKind::Policy => generate::<PolicyFile>(POLICY_ID),
        FileKind::Request => generate::<RequestFile>(REQUEST_ID),
    }
}

/// A schema any config file matches: a request file or a policy file.
pub fn config_schema() -> Schema {
    generate::<ConfigFile>(CONFIG_ID)
}

/// The document `jit schema` prints and `schemas/` keeps: pretty JSON and a final newline.
pub fn to_document(schema: &Schema) -> String {
    let mut text = serde_json::to_string_pretty(schema).expect("a schema is JSON");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(hcl: &str) -> serde_json::Value {
        hcl::from_str(hcl).expect("valid HCL")
    }

    #[test]
    fn kinds_follow_the_top_level_blocks() {
        let request = json("request \"r\" {\n  target = \"web-1\"\n}\n");
        assert_eq!(FileKind::of(&request), FileKind::Request);
        let policy = json("settings {}\ntarget \"a\" {\n  provider = \"snapshot.x\"\n}\n");
        assert_eq!(FileKind::of(&policy), FileKind::Policy);
        let mixed = json("target \"a\" {}\nrequest \"r\" {}\n");
        assert_eq!(FileKind::of(&mixed), FileKind::Policy);
        assert_eq!(FileKind::of(&json("")), FileKind::Policy);
    }

    #[test]
    fn schemas_are_2020_12_with_closed_objects() {
        for kind in [FileKind::Policy, FileKind::Request] {
            let schema = schema(kind);
            let value = schema.as_value();
            assert_eq!(
                value["$schema"],
                "https://json-schema.org/draft/2020-12/schema"
            );
            assert_eq!(value["additionalProperties"], false, "{kind:?}");
        }
    }

    #[test]
    fn documents_are_deterministic() {
        let a = to_document(&schema(FileKind::Policy));
        let b = to_document(&schema(FileKind::Policy));
        assert_eq!(a, b);
        assert!(a.ends_with("}\n"));
    }
}
