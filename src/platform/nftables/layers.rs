//! Which grant set each element goes in. The kernel refuses some overlapping elements in one
//! set of concatenated intervals, so nested sources are spread over *layers*: sets
//! `grants4_0`, `grants4_1`, … (and `grants6_…`), no two overlapping elements in one layer.
//! Pure.
//!
//! What the kernel does (nft 1.0.6, Linux 6.18, checked in a namespace): an add is refused with
//! "File exists" when the new element's first or last point is already matched by an element of
//! the set. So `192.0.2.9 . tcp . 22` cannot join a set holding `192.0.2.0/25 . tcp . 22`, while
//! the other order is accepted; and `192.0.2.0/32` and `192.0.2.0/25` (same first address) are
//! refused in either order. Keeping overlapping elements in different sets avoids every case,
//! whatever the order in which grants arrive and expire; each element is still one grant with
//! its own timeout, so the kernel closes each at its own end.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use ipnet::IpNet;

use super::spec::{ElementKey, Family};

/// The name of layer `layer` of `family`'s grant sets.
pub fn set_name(family: Family, layer: usize) -> String {
    format!("grants{}_{layer}", family.digit())
}

/// The family and layer a set name stands for, if it is one of jit's grant set names.
pub fn parse_set_name(name: &str) -> Option<(Family, usize)> {
    let rest = name.strip_prefix("grants")?;
    let (digit, layer) = rest.split_once('_')?;
    let family = match digit {
        "4" => Family::V4,
        "6" => Family::V6,
        _ => return None,
    };
    let canonical = layer.parse::<usize>().ok()?;
    (canonical.to_string() == layer).then_some((family, canonical))
}

/// Where every element goes, and how many layers each family has.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Layout {
    pub placement: BTreeMap<ElementKey, usize>,
    pub layers4: usize,
    pub layers6: usize,
}

impl Layout {
    pub fn layers(&self, family: Family) -> usize {
        match family {
            Family::V4 => self.layers4,
            Family::V6 => self.layers6,
        }
    }

    /// Every grant set's name, IPv4 first, layer order.
    pub fn set_names(&self) -> Vec<(Family, usize)> {
        let v4 = (0..self.layers4).map(|l| (Family::V4, l));
        v4.chain((0..self.layers6).map(|l| (Family::V6, l)))
            .collect()
    }
}

/// The elements of one layer, indexed so that an overlap test costs a few lookups, not a scan:
/// by protocol and port, the sources as (network address, prefix length), in address order.
#[derive(Default)]
struct Occupied {
    by_port: BTreeMap<(super::spec::Proto, u16), BTreeSet<(IpAddr, u8)>>,
}

impl Occupied {
    fn insert(&mut self, key: &ElementKey) {
        let source = (key.source.network(), key.source.prefix_len());
        self.by_port
            .entry((key.proto, key.port))
            .or_default()
            .insert(source);
    }

    /// Whether some element here overlaps `key`: one of its supernets is here (at most 129
    /// lookups), or something lies inside it (a range of addresses).
    fn overlaps(&self, key: &ElementKey) -> bool {
        let Some(sources) = self.by_port.get(&(key.proto, key.port)) else {
            return false;
        };
        let wider = (0..=key.source.prefix_len()).any(|len| {
            IpNet::new(key.source.network(), len)
                .map(|n| n.trunc())
                .is_ok_and(|n| sources.contains(&(n.network(), len)))
        });
        wider
            || sources
                .range((key.source.network(), 0)..=(key.source.broadcast(), u8::MAX))
                .next()
                .is_some()
    }
}

/// Places `wanted` keys. A key already `live` in some layer stays there (its lowest one), so an
/// apply never moves an element that is in place. Every other key goes, widest sources first,
/// into the lowest layer where it overlaps nothing. Each family has at least one layer and at
/// least `min_layers` of it (the layers that exist already, so an emptied layer is not churned
/// away and back).
pub fn assign(
    wanted: &[ElementKey],
    live: &[(ElementKey, usize)],
    min_layers: (usize, usize),
) -> Layout {
    let mut live_layer: BTreeMap<ElementKey, usize> = BTreeMap::new();
    for (key, layer) in live {
        let slot = live_layer.entry(*key).or_insert(*layer);
        *slot = (*slot).min(*layer);
    }
    let mut layout = Layout::default();
    // What each layer holds, for the overlap test: everything live there (even what will be
    // removed: within one transaction the kernel checks the adds against it).
    let mut occupied: BTreeMap<usize, Occupied> = BTreeMap::new();
    for (key, layer) in live {
        occupied.entry(*layer).or_default().insert(key);
    }
    let mut fresh: Vec<ElementKey> = Vec::new();
    for key in wanted {
        match live_layer.get(key) {
            Some(layer) => {
                layout.placement.insert(*key, *layer);
            }
            None => fresh.push(*key),
        }
    }
    fresh.sort_by_key(|k| (k.source.prefix_len(), *k));
    for key in fresh {
        let mut layer = 0;
        while occupied.get(&layer).is_some_and(|held| held.overlaps(&key)) {
            layer += 1;
        }
        occupied.entry(layer).or_default().insert(&key);
        layout.placement.insert(key, layer);
    }
    let top = |family: Family, min: usize| {
        let used = layout
            .placement
            .iter()
            .filter(|(k, _)| k.family() == family)
            .map(|(_, l)| l + 1)
            .max()
            .unwrap_or(0);
        used.max(min).max(1)
    };
    layout.layers4 = top(Family::V4, min_layers.0);
    layout.layers6 = top(Family::V6, min_layers.1);
    layout
}

#[cfg(test)]
mod tests {
    use super::super::spec::Proto;
    use super::*;

    fn key(source: &str) -> ElementKey {
        ElementKey::new(source.parse().unwrap(), Proto::Tcp, 22)
    }

    fn no_layer_holds_overlaps(layout: &Layout) {
        for (a, la) in &layout.placement {
            for (b, lb) in &layout.placement {
                if a != b && la == lb {
                    assert!(!a.overlaps(b), "{a} and {b} share layer {la}");
                }
            }
        }
    }

    #[test]
    fn nested_sources_go_to_different_layers_and_disjoint_ones_share() {
        let keys = [
            key("192.0.2.9/32"),
            key("192.0.2.0/25"),
            key("192.0.2.200/32"),
            key("192.0.2.0/32"),
            key("0.0.0.0/0"),
        ];
        let layout = assign(&keys, &[], (0, 0));
        no_layer_holds_overlaps(&layout);
        assert_eq!(layout.placement[&key("0.0.0.0/0")], 0);
        assert_eq!(layout.placement[&key("192.0.2.0/25")], 1);
        assert_eq!(layout.placement[&key("192.0.2.9/32")], 2);
        assert_eq!(layout.placement[&key("192.0.2.200/32")], 1);
        assert_eq!((layout.layers4, layout.layers6), (3, 1));
    }

    #[test]
    fn live_elements_stay_where_they_are_and_new_ones_avoid_them() {
        let live = [(key("192.0.2.9/32"), 0)];
        let layout = assign(&[key("192.0.2.9/32"), key("192.0.2.0/25")], &live, (1, 1));
        assert_eq!(layout.placement[&key("192.0.2.9/32")], 0);
        assert_eq!(layout.placement[&key("192.0.2.0/25")], 1);
    }

    #[test]
    fn an_element_being_removed_still_blocks_its_layer_within_the_transaction() {
        let live = [(key("192.0.2.0/25"), 0)];
        let layout = assign(&[key("192.0.2.9/32")], &live, (1, 1));
        assert_eq!(layout.placement[&key("192.0.2.9/32")], 1);
    }

    #[test]
    fn the_index_agrees_with_the_pairwise_overlap_test() {
        let sources = [
            "0.0.0.0/0",
            "192.0.2.0/24",
            "192.0.2.0/25",
            "192.0.2.128/25",
            "192.0.2.0/32",
            "192.0.2.127/32",
            "192.0.2.128/32",
            "192.0.2.255/32",
            "198.51.100.0/24",
            "2001:db8::/32",
            "2001:db8::/128",
            "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff/128",
            "::/0",
        ];
        let keys: Vec<ElementKey> = sources.iter().map(|s| key(s)).collect();
        for held in &keys {
            let mut occupied = Occupied::default();
            occupied.insert(held);
            for probe in &keys {
                assert_eq!(
                    occupied.overlaps(probe),
                    held.overlaps(probe),
                    "{held} vs {probe}"
                );
            }
        }
        let other_port = ElementKey::new("192.0.2.0/24".parse().unwrap(), Proto::Udp, 22);
        let mut occupied = Occupied::default();
        occupied.insert(&keys[1]);
        assert!(!occupied.overlaps(&other_port));
    }

    #[test]
    fn existing_layers_are_kept_even_when_empty() {
        let layout = assign(&[], &[], (3, 0));
        assert_eq!((layout.layers4, layout.layers6), (3, 1));
    }

    #[test]
    fn set_names_round_trip_and_strangers_are_not_layers() {
        assert_eq!(set_name(Family::V6, 2), "grants6_2");
        assert_eq!(parse_set_name("grants6_2"), Some((Family::V6, 2)));
        assert_eq!(parse_set_name("grants4_01"), None);
        assert_eq!(parse_set_name("grants5_0"), None);
        assert_eq!(parse_set_name("allow"), None);
    }
}
