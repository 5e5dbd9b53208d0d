//! Targets named by their VM: read the virtual machine (Microsoft.Compute, api-version
//! 2024-07-01), its network interfaces and their subnets (Microsoft.Network, 2024-05-01), and
//! derive what filters the VM's inbound traffic — every NIC's own NSG and the NSG of each IP
//! configuration's subnet — and its destination (the NICs' private IPs). Inbound traffic must
//! pass both the subnet's and the NIC's NSG, so a lock-down and its allows go into each.
//!
//! The parsing and the derivation ([`derive`]) are pure; [`resolve_vm`] does the reads, and
//! [`AzureProvider::resolve_vms`] is the blocking entry point an adapter calls. A VM that no
//! NSG filters is [`VmError::NoNsg`]: nothing could be locked down.

use std::fmt;

use futures::{stream, StreamExt};
use ipnet::IpNet;
use serde_json::Value;

use super::client::{ArmClient, Request};
use super::endpoint::{join, segment};
use super::error::ArmError;
use super::AzureProvider;
use crate::providers::ProviderError;

/// Microsoft.Compute's api-version for virtual machines.
pub const COMPUTE_API_VERSION: &str = "2024-07-01";
/// Microsoft.Network's api-version for network interfaces and subnets.
pub const NETWORK_API_VERSION: &str = "2024-05-01";

/// What filters one VM's inbound traffic, and where that traffic goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmNetwork {
    /// The VM's id as ARM spells it.
    pub vm_id: String,
    pub name: String,
    /// ARM's location, as the VM body has it (`West US`, `westus`).
    pub location: String,
    /// Every NSG that filters the VM, NIC NSGs and subnet NSGs, each once (compared without
    /// case), in the order met: NIC by NIC, the NIC's own NSG before its subnets'.
    pub nsg_ids: Vec<String>,
    /// The NICs' private addresses (a `/32` or `/128` each, or the configuration's prefix), in
    /// order, without repeats: the destination of the VM's rules.
    pub private_ips: Vec<IpNet>,
    pub nics: Vec<Nic>,
}

impl VmNetwork {
    /// The destination of the VM's rules, as Network writes a single prefix: the one private
    /// address, or `None` when there are several (or none) and the caller must choose.
    pub fn single_destination(&self) -> Option<String> {
        match self.private_ips.as_slice() {
            [one] if one.prefix_len() == one.max_prefix_len() => Some(one.addr().to_string()),
            [one] => Some(one.to_string()),
            _ => None,
        }
    }
}

/// One network interface of the VM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nic {
    pub id: String,
    /// The NIC's own NSG.
    pub nsg_id: Option<String>,
    pub ip_configurations: Vec<IpConfiguration>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpConfiguration {
    pub name: String,
    pub private_ip: Option<IpNet>,
    pub subnet_id: Option<String>,
    /// The NSG of that subnet.
    pub subnet_nsg_id: Option<String>,
}

/// Why a VM's network could not be derived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VmError {
    /// The VM, one of its NICs or subnets does not exist.
    NotFound { what: &'static str, id: String },
    /// No NSG filters the VM: neither its NICs nor their subnets have one.
    NoNsg { vm_id: String },
    /// A body that is not what ARM sends; `url` names it.
    Corrupt { url: String, message: String },
    /// An id that cannot be a path of this kind.
    BadId { id: String, message: String },
}

impl fmt::Display for VmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VmError::NotFound { what, id } => write!(f, "{what} not found: {id}"),
            VmError::NoNsg { vm_id } => write!(
                f,
                "no network security group filters VM `{vm_id}` (neither its network interfaces \
                 nor their subnets have one), so nothing can be locked down; hint: attach an NSG \
                 to the VM's network interface or subnet, or name one with `nsg_id`"
            ),
            VmError::Corrupt { url, message } => write!(f, "{url}: {message}"),
            VmError::BadId { id, message } => write!(f, "`{id}`: {message}"),
        }
    }
}

impl From<VmError> for ProviderError {
    fn from(e: VmError) -> ProviderError {
        match e {
            VmError::NotFound { what, id } => ProviderError::NotFound {
                what,
                id,
                hint: None,
            },
            VmError::Corrupt { url, message } => ProviderError::Corrupt {
                source_name: url,
                message,
            },
            other @ (VmError::NoNsg { .. } | VmError::BadId { .. }) => {
                ProviderError::Other(other.to_string())
            }
        }
    }
}

/// What the VM body says that matters here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmFacts {
    pub id: String,
    pub name: String,
    pub location: String,
    pub nic_ids: Vec<String>,
}

/// What a NIC body says that matters here: its NSG and, per IP configuration, name, private
/// address and subnet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NicFacts {
    pub id: String,
    pub nsg_id: Option<String>,
    pub configurations: Vec<(String, Option<IpNet>, Option<String>)>,
}

fn str_at<'a>(body: &'a Value, pointer: &str) -> Option<&'a str> {
    body.pointer(pointer).and_then(Value::as_str)
}

fn corrupt(url: &str, message: impl Into<String>) -> VmError {
    VmError::Corrupt {
        url: url.to_string(),
        message: message.into(),
    }
}

/// The array at `pointer` in `body` (none there, or `null`: empty), else why not.
fn array_at<'b>(url: &str, body: &'b Value, pointer: &str) -> Result<&'b [Value], VmError> {
    match body.pointer(pointer) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(corrupt(
            url,
            format!(
                "`{}` should be an array",
                pointer.trim_start_matches('/').replace('/', ".")
            ),
        )),
    }
}

/// Reads a VM body (`GET …/virtualMachines/{name}`); `url` names it in errors.
pub fn parse_vm(url: &str, requested_id: &str, body: &Value) -> Result<VmFacts, VmError> {
    if !body.is_object() {
        return Err(corrupt(url, "the answer is not a JSON object"));
    }
    let nics = array_at(url, body, "/properties/networkProfile/networkInterfaces")?
        .iter()
        .map(|nic| {
            nic.get("id")
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| {
                    corrupt(
                        url,
                        "a `networkProfile.networkInterfaces` entry has no string `id`",
                    )
                })
        })
        .collect::<Result<_, _>>()?;
    let id = str_at(body, "/id").unwrap_or(requested_id).to_string();
    Ok(VmFacts {
        name: str_at(body, "/name")
            .map(str::to_string)
            .unwrap_or_else(|| crate::live::name_from_id(&id).to_string()),
        location: str_at(body, "/location").unwrap_or_default().to_string(),
        id,
        nic_ids: nics,
    })
}

/// A private address as Network writes it: `10.0.0.4`, or `172.20.2.16/28` for a
/// configuration that holds a prefix.
fn private_ip(text: &str) -> Option<IpNet> {
    text.parse::<IpNet>()
        .ok()
        .or_else(|| text.parse::<std::net::IpAddr>().ok().map(IpNet::from))
}

/// Reads a NIC body (`GET …/networkInterfaces/{name}`).
pub fn parse_nic(url: &str, requested_id: &str, body: &Value) -> Result<NicFacts, VmError> {
    if !body.is_object() {
        return Err(corrupt(url, "the answer is not a JSON object"));
    }
    let configurations = array_at(url, body, "/properties/ipConfigurations")?
        .iter()
        .map(|c| {
                let name = str_at(c, "/name").unwrap_or_default().to_string();
                let ip = match str_at(c, "/properties/privateIPAddress") {
                    None => None,
                    Some(text) => Some(private_ip(text).ok_or_else(|| {
                        corrupt(
                            url,
                            format!("ip configuration `{name}` has the private address `{text}`, which is not an IP address"),
                        )
                    })?),
                };
                let subnet = str_at(c, "/properties/subnet/id").map(str::to_string);
                Ok((name, ip, subnet))
        })
        .collect::<Result<_, VmError>>()?;
    Ok(NicFacts {
        id: str_at(body, "/id").unwrap_or(requested_id).to_string(),
        nsg_id: str_at(body, "/properties/networkSecurityGroup/id").map(str::to_string),
        configurations,
    })
}

/// Reads a subnet body (`GET …/virtualNetworks/{vnet}/subnets/{name}`): its NSG, if any.
pub fn parse_subnet(url: &str, body: &Value) -> Result<Option<String>, VmError> {
    if !body.is_object() {
        return Err(corrupt(url, "the answer is not a JSON object"));
    }
    Ok(str_at(body, "/properties/networkSecurityGroup/id").map(str::to_string))
}

/// The VM's network from what was read. `subnet_nsg(subnet id)` gives the NSG of a subnet that
/// was read (`None`: the subnet has none). Pure.
pub fn derive(
    vm: &VmFacts,
    nics: &[NicFacts],
    subnet_nsg: &dyn Fn(&str) -> Option<String>,
) -> Result<VmNetwork, VmError> {
    let mut nsg_ids: Vec<String> = Vec::new();
    let mut private_ips: Vec<IpNet> = Vec::new();
    let mut push_nsg = |id: &Option<String>| {
        if let Some(id) = id {
            if !nsg_ids.iter().any(|n| n.eq_ignore_ascii_case(id)) {
                nsg_ids.push(id.clone());
            }
        }
    };
    let mut out = Vec::with_capacity(nics.len());
    for nic in nics {
        push_nsg(&nic.nsg_id);
        let mut configs = Vec::with_capacity(nic.configurations.len());
        for (name, ip, subnet) in &nic.configurations {
            let subnet_nsg_id = subnet.as_deref().and_then(subnet_nsg);
            push_nsg(&subnet_nsg_id);
            if let Some(ip) = ip {
                if !private_ips.contains(ip) {
                    private_ips.push(*ip);
                }
            }
            configs.push(IpConfiguration {
                name: name.clone(),
                private_ip: *ip,
                subnet_id: subnet.clone(),
                subnet_nsg_id,
            });
        }
        out.push(Nic {
            id: nic.id.clone(),
            nsg_id: nic.nsg_id.clone(),
            ip_configurations: configs,
        });
    }
    if nsg_ids.is_empty() {
        return Err(VmError::NoNsg {
            vm_id: vm.id.clone(),
        });
    }
    Ok(VmNetwork {
        vm_id: vm.id.clone(),
        name: vm.name.clone(),
        location: vm.location.clone(),
        nsg_ids,
        private_ips,
        nics: out,
    })
}

/// Checks that `id` is `/subscriptions/<s>/resourceGroups/<rg>/providers/<namespace>/<type…>`
/// with the segments `kind` lists after the namespace (each followed by a name), and returns
/// its ARM path, segment by segment percent-encoded.
pub fn resource_path(id: &str, namespace: &str, kind: &[&str]) -> Result<String, VmError> {
    let bad = |message: String| VmError::BadId {
        id: id.to_string(),
        message,
    };
    let parts: Vec<&str> = id.trim_end_matches('/').split('/').collect();
    let expected = 7 + kind.len() * 2;
    let shape = parts.len() == expected
        && parts[0].is_empty()
        && parts[1].eq_ignore_ascii_case("subscriptions")
        && parts[3].eq_ignore_ascii_case("resourceGroups")
        && parts[5].eq_ignore_ascii_case("providers")
        && parts[6].eq_ignore_ascii_case(namespace)
        && kind
            .iter()
            .enumerate()
            .all(|(i, k)| parts[7 + i * 2].eq_ignore_ascii_case(k));
    if !shape {
        return Err(bad(format!(
            "not a {namespace}/{} resource id",
            kind.join("/")
        )));
    }
    let mut path = String::new();
    for part in &parts[1..] {
        path.push('/');
        path.push_str(&segment(part).map_err(bad)?);
    }
    Ok(path)
}

/// GETs `path` at `api_version`; `None` on 404.
async fn get_json(
    client: &ArmClient,
    path: &str,
    api_version: &str,
) -> Result<Option<(String, Value)>, ProviderError> {
    let url = format!("{}?api-version={api_version}", join(client.base(), path));
    match client.send(&Request::get(url.as_str())).await {
        Ok(response) => {
            let what = url.split('?').next().unwrap_or(&url).to_string();
            let body = response.json(&what)?;
            Ok(Some((what, body)))
        }
        Err(ArmError::Remote(e)) if e.status == 404 => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Reads VM `vm_id` alone (what Defender mode needs: its name and location).
pub async fn read_vm(client: &ArmClient, vm_id: &str) -> Result<VmFacts, ProviderError> {
    let path = resource_path(vm_id, "Microsoft.Compute", &["virtualMachines"])?;
    let Some((url, body)) = get_json(client, &path, COMPUTE_API_VERSION).await? else {
        return Err(VmError::NotFound {
            what: "virtual machine",
            id: vm_id.to_string(),
        }
        .into());
    };
    Ok(parse_vm(&url, vm_id, &body)?)
}

/// Reads VM `vm_id`, its NICs and their subnets (each subnet once), and derives its network.
pub async fn resolve_vm(client: &ArmClient, vm_id: &str) -> Result<VmNetwork, ProviderError> {
    let path = resource_path(vm_id, "Microsoft.Compute", &["virtualMachines"])?;
    let Some((url, body)) = get_json(client, &path, COMPUTE_API_VERSION).await? else {
        return Err(VmError::NotFound {
            what: "virtual machine",
            id: vm_id.to_string(),
        }
        .into());
    };
    let vm = parse_vm(&url, vm_id, &body)?;
    let mut nics = Vec::with_capacity(vm.nic_ids.len());
    for nic_id in &vm.nic_ids {
        let path = resource_path(nic_id, "Microsoft.Network", &["networkInterfaces"])?;
        let Some((url, body)) = get_json(client, &path, NETWORK_API_VERSION).await? else {
            return Err(VmError::NotFound {
                what: "network interface",
                id: nic_id.clone(),
            }
            .into());
        };
        nics.push(parse_nic(&url, nic_id, &body)?);
    }
    let mut subnets: Vec<(String, Option<String>)> = Vec::new();
    for subnet_id in nics
        .iter()
        .flat_map(|n| n.configurations.iter().filter_map(|(_, _, s)| s.as_ref()))
    {
        if subnets
            .iter()
            .any(|(s, _)| s.eq_ignore_ascii_case(subnet_id))
        {
            continue;
        }
        let path = resource_path(
            subnet_id,
            "Microsoft.Network",
            &["virtualNetworks", "subnets"],
        )?;
        let Some((url, body)) = get_json(client, &path, NETWORK_API_VERSION).await? else {
            return Err(VmError::NotFound {
                what: "subnet",
                id: subnet_id.clone(),
            }
            .into());
        };
        subnets.push((subnet_id.clone(), parse_subnet(&url, &body)?));
    }
    let lookup = |id: &str| {
        subnets
            .iter()
            .find(|(s, _)| s.eq_ignore_ascii_case(id))
            .and_then(|(_, nsg)| nsg.clone())
    };
    Ok(derive(&vm, &nics, &lookup)?)
}

impl AzureProvider {
    /// Reads each VM alone (name, location, NIC ids), in parallel; one result per id.
    pub fn read_vms(&self, vm_ids: &[String]) -> Vec<Result<VmFacts, ProviderError>> {
        self.runtime.block_on(
            stream::iter(vm_ids.iter().map(|id| read_vm(&self.client, id)))
                .buffered(self.parallelism)
                .collect(),
        )
    }

    /// Resolves each VM (in parallel up to the provider's parallelism); one result per id, in
    /// order. A VM outside the provider's subscription is refused without a request.
    pub fn resolve_vms(&self, vm_ids: &[String]) -> Vec<Result<VmNetwork, ProviderError>> {
        self.runtime.block_on(
            stream::iter(vm_ids.iter().map(|id| async move {
                let sub = id.split('/').nth(2).unwrap_or_default();
                if !sub.eq_ignore_ascii_case(&self.subscription_id) {
                    return Err(ProviderError::Other(format!(
                        "`{id}` is in subscription `{sub}`, but provider `{}` is for subscription `{}`",
                        self.address, self.subscription_id
                    )));
                }
                resolve_vm(&self.client, id).await
            }))
            .buffered(self.parallelism)
            .collect(),
        )
    }

    /// The NSGs of the provider's subscription that hold a rule jit manages (`prefix` and the
    /// marker) named one of `rule_names` (compared without case), in listing order: where jit
    /// wrote the rules of a VM it can no longer read, so that they can still be revoked. One
    /// paged list of the subscription's NSGs (`nextLink` followed).
    pub fn nsgs_holding(
        &self,
        prefix: &str,
        rule_names: &[String],
    ) -> Result<Vec<String>, ProviderError> {
        let path = format!(
            "/subscriptions/{}/providers/Microsoft.Network/networkSecurityGroups",
            segment(&self.subscription_id).map_err(ProviderError::Other)?
        );
        let url = format!(
            "{}?api-version={NETWORK_API_VERSION}",
            join(self.client.base(), &path)
        );
        let nsgs = self.runtime.block_on(self.client.list(&url))?;
        let holds = |nsg: &Value| {
            nsg.pointer("/properties/securityRules")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .any(|rule| {
                    let name = rule.get("name").and_then(Value::as_str).unwrap_or_default();
                    let description = rule
                        .pointer("/properties/description")
                        .and_then(Value::as_str);
                    rule_names.iter().any(|n| n.eq_ignore_ascii_case(name))
                        && crate::platform::nsg::names::is_managed(name, description, prefix)
                })
        };
        Ok(nsgs
            .iter()
            .filter(|nsg| holds(nsg))
            .filter_map(|nsg| nsg.get("id").and_then(Value::as_str).map(str::to_string))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example(file: &str) -> Value {
        let path = format!(
            "{}/tests/fixtures/azure-examples/{file}",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_str(&text).unwrap()
    }

    fn body(file: &str) -> Value {
        example(file)["responses"]["200"]["body"].clone()
    }

    #[test]
    fn reads_the_official_vm_nic_and_subnet_examples() {
        let vm = parse_vm("u", "x", &body("compute-VirtualMachine_Get.json")).unwrap();
        assert_eq!(vm.name, "myVM");
        assert_eq!(vm.location, "West US");
        assert_eq!(vm.nic_ids.len(), 1);
        assert!(vm.nic_ids[0].ends_with("/networkInterfaces/{myNIC}"));
        let nic = parse_nic("u", "x", &body("network-NetworkInterfaceGet.json")).unwrap();
        assert!(nic
            .nsg_id
            .as_deref()
            .unwrap()
            .ends_with("/networkSecurityGroups/nsg"));
        assert_eq!(nic.configurations.len(), 2);
        assert_eq!(
            nic.configurations[0].1,
            Some("172.20.2.4/32".parse().unwrap())
        );
        assert_eq!(
            nic.configurations[1].1,
            Some("172.20.2.16/28".parse().unwrap())
        );
        // The official subnet has no NSG.
        assert_eq!(
            parse_subnet("u", &body("network-SubnetGet.json")).unwrap(),
            None
        );
    }

    fn facts() -> (VmFacts, NicFacts) {
        let vm = VmFacts {
            id:
                "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1"
                    .into(),
            name: "vm1".into(),
            location: "westeurope".into(),
            nic_ids: vec!["nic".into()],
        };
        let nic = NicFacts {
            id: "nic".into(),
            nsg_id: Some("/x/networkSecurityGroups/nic-nsg".into()),
            configurations: vec![
                (
                    "a".into(),
                    Some("10.0.0.4/32".parse().unwrap()),
                    Some("subnet-1".into()),
                ),
                (
                    "b".into(),
                    Some("10.0.0.5/32".parse().unwrap()),
                    Some("subnet-1".into()),
                ),
            ],
        };
        (vm, nic)
    }

    #[test]
    fn nic_and_subnet_nsgs_both_filter_the_vm_each_once() {
        let (vm, nic) = facts();
        let subnet = |id: &str| {
            (id == "subnet-1").then(|| "/X/networkSecurityGroups/SUBNET-NSG".to_string())
        };
        let net = derive(&vm, &[nic.clone(), nic], &subnet).unwrap();
        assert_eq!(
            net.nsg_ids,
            [
                "/x/networkSecurityGroups/nic-nsg",
                "/X/networkSecurityGroups/SUBNET-NSG"
            ]
        );
        assert_eq!(
            net.private_ips,
            [
                "10.0.0.4/32".parse::<IpNet>().unwrap(),
                "10.0.0.5/32".parse().unwrap()
            ]
        );
        assert_eq!(net.single_destination(), None);
    }

    #[test]
    fn a_subnet_nsg_alone_is_enough_and_one_address_is_the_destination() {
        let (vm, mut nic) = facts();
        nic.nsg_id = None;
        nic.configurations.truncate(1);
        let net = derive(&vm, &[nic], &|_| Some("/s/nsg".to_string())).unwrap();
        assert_eq!(net.nsg_ids, ["/s/nsg"]);
        assert_eq!(net.single_destination().as_deref(), Some("10.0.0.4"));
    }

    #[test]
    fn a_vm_without_any_nsg_is_an_error_that_says_nothing_can_be_locked_down() {
        let (vm, mut nic) = facts();
        nic.nsg_id = None;
        let err = derive(&vm, &[nic], &|_| None).unwrap_err();
        assert!(matches!(err, VmError::NoNsg { .. }));
        let text = err.to_string();
        assert!(text.contains("nothing can be locked down"), "{text}");
        assert!(text.contains("virtualMachines/vm1"), "{text}");
        // No NIC at all: the same.
        assert!(matches!(
            derive(&vm, &[], &|_| None),
            Err(VmError::NoNsg { .. })
        ));
    }

    #[test]
    fn malformed_bodies_name_the_url() {
        let err = parse_nic(
            "https://arm/nic",
            "x",
            &serde_json::json!({"properties": {"ipConfigurations": [{"name": "c", "properties": {"privateIPAddress": "nope"}}]}}),
        )
        .unwrap_err();
        assert!(err.to_string().starts_with("https://arm/nic: "), "{err}");
        assert!(err.to_string().contains("`nope`"), "{err}");
        let err = parse_vm(
            "https://arm/vm",
            "x",
            &serde_json::json!({"properties": {"networkProfile": {"networkInterfaces": 3}}}),
        )
        .unwrap_err();
        assert!(err.to_string().contains("should be an array"), "{err}");
    }

    #[test]
    fn resource_paths_check_the_shape_and_encode_every_segment() {
        assert_eq!(
            resource_path(
                "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/a b",
                "Microsoft.Network",
                &["virtualNetworks", "subnets"],
            )
            .unwrap(),
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/a%20b"
        );
        for bad in [
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkInterfaces/n",
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/..",
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/a/b",
        ] {
            assert!(
                resource_path(bad, "Microsoft.Compute", &["virtualMachines"]).is_err(),
                "{bad}"
            );
        }
    }
}
