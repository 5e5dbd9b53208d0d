//! The plain description of the table jit wants on a host: its name, hook priority, protected
//! ports and grant elements. Filled by whoever knows the policy and the clock; knows no `nft`.

use std::fmt;

use ipnet::IpNet;

/// The hook priority of jit's input chain when the provider does not say: `filter - 10`, so it
/// runs after conntrack (-200) and before the host's own filter chains (0 and later).
pub const DEFAULT_PRIORITY: i32 = -10;

/// Longest comment nft takes on an element (`NFTNL_UDATA_COMMENT_MAXLEN`).
pub const COMMENT_MAX: usize = 128;

/// The transport protocol of a protected port. A policy port of protocol `any` is protected as
/// both `tcp` and `udp`: the only protocols with ports that a management service listens on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    /// nft's own spelling, in rules (`tcp dport`) and in set elements (`inet_proto`).
    pub fn nft(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }

    pub fn parse(text: &str) -> Option<Proto> {
        match text {
            "tcp" => Some(Proto::Tcp),
            "udp" => Some(Proto::Udp),
            _ => None,
        }
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.nft())
    }
}

/// An address family: each has its own grant sets (an `ipv4_addr` set refuses IPv6 even in an
/// `inet` table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    pub fn of(net: &IpNet) -> Family {
        match net {
            IpNet::V4(_) => Family::V4,
            IpNet::V6(_) => Family::V6,
        }
    }

    /// The set's address type (`ipv4_addr`, `ipv6_addr`).
    pub fn addr_type(self) -> &'static str {
        match self {
            Family::V4 => "ipv4_addr",
            Family::V6 => "ipv6_addr",
        }
    }

    /// The payload protocol whose `saddr` the rules match (`ip`, `ip6`).
    pub fn payload(self) -> &'static str {
        match self {
            Family::V4 => "ip",
            Family::V6 => "ip6",
        }
    }

    /// `4` or `6`, as set names spell it.
    pub fn digit(self) -> char {
        match self {
            Family::V4 => '4',
            Family::V6 => '6',
        }
    }
}

/// A protected port: closed to new connections except from granted sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GuardedPort {
    pub proto: Proto,
    pub port: u16,
}

impl fmt::Display for GuardedPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.proto, self.port)
    }
}

/// What a set element is keyed by: `source . protocol . port`. The source is normalised (host
/// bits cleared), so two spellings of one network are one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ElementKey {
    pub source: IpNet,
    pub proto: Proto,
    pub port: u16,
}

impl ElementKey {
    pub fn new(source: IpNet, proto: Proto, port: u16) -> ElementKey {
        ElementKey {
            source: source.trunc(),
            proto,
            port,
        }
    }

    pub fn family(&self) -> Family {
        Family::of(&self.source)
    }

    /// Whether both keys match some packet: same protocol and port, and one source inside the
    /// other (CIDR networks are nested or disjoint). Such elements may not share a set.
    pub fn overlaps(&self, other: &ElementKey) -> bool {
        self.proto == other.proto
            && self.port == other.port
            && (self.source.contains(&other.source) || other.source.contains(&self.source))
    }
}

impl fmt::Display for ElementKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} . {} . {}", self.source, self.proto, self.port)
    }
}

/// One grant as the kernel should hold it: open `key` for `timeout` more seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantElement {
    pub key: ElementKey,
    /// Remaining seconds of the grant, computed by the caller from the real clock at the moment
    /// of planning. Never 0 (nft reads 0 as "no timeout"): [`TableSpec::new`] drops grants with
    /// less than a second left.
    pub timeout: u64,
    /// The request behind the grant, as the element's comment (see [`comment_for`]).
    pub comment: String,
}

/// The whole table jit wants, in a stable order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSpec {
    /// The table's name, in family `inet`.
    pub table: String,
    /// The input chain's hook priority.
    pub priority: i32,
    /// Sorted, without duplicates.
    pub ports: Vec<GuardedPort>,
    /// Sorted by key, one element per key.
    pub grants: Vec<GrantElement>,
    /// The comments of every request the policy holds for this table, active or not: an element
    /// naming one of them is a grant's own (expired or revoked early), any other that no grant
    /// stands for was added by hand.
    pub known: std::collections::BTreeSet<String>,
}

/// One grant as the caller hands it in: a request opening one port from one source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantInput {
    pub request: String,
    pub source: IpNet,
    pub port: GuardedPort,
    /// Seconds left, from the real clock; fractions rounded down, so the kernel closes a grant
    /// up to a second early and never late.
    pub remaining_secs: u64,
}

impl TableSpec {
    /// The table for these ports and grants. Grants with nothing left (0 s) are dropped; grants
    /// for a port that is not protected are dropped (they would open nothing). Two grants with
    /// one key (same source, protocol and port) make one element that lasts as long as the
    /// longer one and names its request (the first by name on a tie).
    pub fn new(
        table: &str,
        priority: i32,
        ports: impl IntoIterator<Item = GuardedPort>,
        grants: impl IntoIterator<Item = GrantInput>,
    ) -> TableSpec {
        let mut ports: Vec<GuardedPort> = ports.into_iter().collect();
        ports.sort();
        ports.dedup();
        let mut by_key: std::collections::BTreeMap<ElementKey, (u64, String)> =
            std::collections::BTreeMap::new();
        for grant in grants {
            if grant.remaining_secs == 0 || !ports.contains(&grant.port) {
                continue;
            }
            let key = ElementKey::new(grant.source, grant.port.proto, grant.port.port);
            let entry = by_key
                .entry(key)
                .or_insert((grant.remaining_secs, grant.request.clone()));
            let longer = grant.remaining_secs > entry.0
                || (grant.remaining_secs == entry.0 && grant.request < entry.1);
            if longer {
                *entry = (grant.remaining_secs, grant.request);
            }
        }
        let grants = by_key
            .into_iter()
            .map(|(key, (timeout, request))| GrantElement {
                key,
                timeout,
                comment: comment_for(&request),
            })
            .collect();
        TableSpec {
            table: table.to_string(),
            priority,
            ports,
            grants,
            known: std::collections::BTreeSet::new(),
        }
    }

    /// Names the requests the policy holds for this table, active or not (see [`Self::known`]).
    /// The requests of the grants are known already.
    pub fn with_known_requests<'a>(mut self, requests: impl IntoIterator<Item = &'a str>) -> Self {
        self.known = requests.into_iter().map(comment_for).collect();
        self
    }

    /// Whether `comment` names a request of the policy.
    pub fn knows(&self, comment: &str) -> bool {
        self.known.contains(comment) || self.grants.iter().any(|g| g.comment == comment)
    }
}

/// The element comment naming `request`: the request id itself, or, when longer than nft takes,
/// its first characters, `~` and a short digest of the whole id (stable, and still unique).
pub fn comment_for(request: &str) -> String {
    if request.len() <= COMMENT_MAX {
        return request.to_string();
    }
    let digest = crate::digest::sha256_hex(request.as_bytes());
    let keep = COMMENT_MAX - 13;
    let mut cut = keep;
    while !request.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}~{}", &request[..cut], &digest[..12])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    const SSH: GuardedPort = GuardedPort {
        proto: Proto::Tcp,
        port: 22,
    };

    fn grant(request: &str, source: &str, secs: u64) -> GrantInput {
        GrantInput {
            request: request.into(),
            source: net(source),
            port: SSH,
            remaining_secs: secs,
        }
    }

    #[test]
    fn nested_sources_overlap_and_other_ports_do_not() {
        let wide = ElementKey::new(net("192.0.2.0/25"), Proto::Tcp, 22);
        let inside = ElementKey::new(net("192.0.2.9/32"), Proto::Tcp, 22);
        let outside = ElementKey::new(net("192.0.2.200/32"), Proto::Tcp, 22);
        let other_port = ElementKey::new(net("192.0.2.9/32"), Proto::Tcp, 2222);
        assert!(wide.overlaps(&inside) && inside.overlaps(&wide));
        assert!(!wide.overlaps(&outside));
        assert!(!wide.overlaps(&other_port));
        assert!(!inside.overlaps(&ElementKey::new(net("192.0.2.9/32"), Proto::Udp, 22)));
    }

    #[test]
    fn one_element_per_key_lasting_as_long_as_the_longest_grant() {
        let spec = TableSpec::new(
            "jit",
            DEFAULT_PRIORITY,
            [SSH, SSH],
            [
                grant("INC-2", "192.0.2.9/32", 60),
                grant("INC-1", "192.0.2.9/32", 600),
                grant("INC-3", "2001:db8::/48", 30),
            ],
        );
        assert_eq!(spec.ports, vec![SSH]);
        assert_eq!(spec.grants.len(), 2);
        assert_eq!(spec.grants[0].timeout, 600);
        assert_eq!(spec.grants[0].comment, "INC-1");
        assert_eq!(spec.grants[1].key.family(), Family::V6);
    }

    #[test]
    fn grants_with_nothing_left_or_for_unprotected_ports_make_no_element() {
        let mut other = grant("INC-9", "192.0.2.7/32", 60);
        other.port = GuardedPort {
            proto: Proto::Udp,
            port: 53,
        };
        let spec = TableSpec::new(
            "jit",
            DEFAULT_PRIORITY,
            [SSH],
            [grant("INC-0", "192.0.2.9/32", 0), other],
        );
        assert!(
            spec.grants.is_empty(),
            "a 0 s timeout would be forever in nft"
        );
    }

    #[test]
    fn long_request_ids_are_cut_to_what_nft_takes_and_stay_distinct() {
        let a = "A".repeat(200);
        let b = format!("{}B", "A".repeat(199));
        assert_eq!(comment_for(&a).len(), COMMENT_MAX);
        assert_ne!(comment_for(&a), comment_for(&b));
        assert_eq!(comment_for("INC-1"), "INC-1");
        let wide = "é".repeat(100);
        assert!(comment_for(&wide).len() <= COMMENT_MAX);
    }

    #[test]
    fn keys_are_normalised() {
        let key = ElementKey::new(net("192.0.2.77/25"), Proto::Tcp, 22);
        assert_eq!(key.source, net("192.0.2.0/25"));
        assert_eq!(key.to_string(), "192.0.2.0/25 . tcp . 22");
    }
}
