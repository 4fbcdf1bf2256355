//! Identity and names: this pod's server ID from its hostname, the host of every
//! server, and the replication names of every pair. Pure functions, per
//! `spec/aku-behaviour.md` section 4 (Utilities manual, aku chapter).

use std::fmt;

use crate::config::Config;

/// A server ID: the ordinal of a pod in the `StatefulSet` (`<sts>-<N>` → N),
/// `0..AKU_SERVER_COUNT`. Server 0 is the master pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize)]
#[serde(transparent)]
pub struct ServerId(pub u8);

impl ServerId {
    /// The master pod's server ID.
    pub const MASTER: ServerId = ServerId(0);

    pub fn is_master(self) -> bool {
        self == ServerId::MASTER
    }
}

impl fmt::Display for ServerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Why a hostname does not give a server ID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error(
        "The hostname [{hostname}] is not of the form <AKU_STS_NAME>-<ordinal> with AKU_STS_NAME = {sts}; \
         run aku inside a pod of that StatefulSet (or set AKU_HOSTNAME)."
    )]
    Shape { hostname: String, sts: String },
    #[error(
        "The ordinal {ordinal} of hostname [{hostname}] is not below AKU_SERVER_COUNT = {count}; \
         raise AKU_SERVER_COUNT (at most 6) or scale the StatefulSet down."
    )]
    OutOfRange { hostname: String, ordinal: u64, count: u8 },
}

/// Reads the server ID from a hostname `<sts>-<N>` (a fully qualified name is cut
/// at the first dot). `N` is decimal without sign or leading zeros (as Kubernetes
/// writes ordinals) and must be below `count`.
pub fn server_id_from_hostname(hostname: &str, sts: &str, count: u8) -> Result<ServerId, IdentityError> {
    let short = hostname.split('.').next().unwrap_or(hostname);
    // The hostname may come from AKU_HOSTNAME, of any length: messages quote 64 characters.
    let shown = || crate::config::visible(hostname, 64);
    let shape = || IdentityError::Shape { hostname: shown(), sts: sts.to_owned() };
    // Host names compare without regard to case (RFC 4343).
    let prefix_matches = short.len() > sts.len() && short.is_char_boundary(sts.len()) && short[..sts.len()].eq_ignore_ascii_case(sts);
    let digits = if prefix_matches { short[sts.len()..].strip_prefix('-') } else { None }.ok_or_else(shape)?;
    let canonical = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) && (digits == "0" || !digits.starts_with('0'));
    if !canonical {
        return Err(shape());
    }
    let ordinal: u64 = digits.parse().map_err(|_| shape())?;
    match u8::try_from(ordinal) {
        Ok(n) if n < count => Ok(ServerId(n)),
        _ => Err(IdentityError::OutOfRange { hostname: shown(), ordinal, count }),
    }
}

/// The host name of server `id`: `<sts>-<id>.<svc>` (headless Service DNS).
pub fn host_of(config: &Config, id: ServerId) -> String {
    format!("{}-{}.{}", config.sts_name, id.0, config.svc_name)
}

/// An unordered pair of servers, stored as `low < high`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pair {
    pub low: ServerId,
    pub high: ServerId,
}

impl Pair {
    /// The pair of two different servers, in either order.
    ///
    /// # Panics
    /// If `a == b` (a server has no replication with itself).
    pub fn new(a: ServerId, b: ServerId) -> Pair {
        assert_ne!(a, b, "a replication pair needs two different servers");
        Pair { low: a.min(b), high: a.max(b) }
    }

    /// The other server of the pair, seen from `me` (which must be in the pair).
    pub fn other(self, me: ServerId) -> ServerId {
        if me == self.low { self.high } else { self.low }
    }

    pub fn contains(self, id: ServerId) -> bool {
        self.low == id || self.high == id
    }
}

/// The replication name of a pair in a group: `<prefix>_<i><j>` with `i < j`,
/// e.g. `AKU_REP_01`.
pub fn replication_name(prefix: &str, pair: Pair) -> String {
    format!("{prefix}_{}{}", pair.low.0, pair.high.0)
}

/// Every server of the `StatefulSet` except `me`, in order.
pub fn peers_of(me: ServerId, count: u8) -> Vec<ServerId> {
    (0..count).map(ServerId).filter(|&s| s != me).collect()
}

/// The pairs that contain `me`, in peer order (`count - 1` of them).
pub fn pairs_of(me: ServerId, count: u8) -> Vec<Pair> {
    peers_of(me, count).into_iter().map(|p| Pair::new(me, p)).collect()
}

/// The replication names server `me` owns in a group, in peer order.
pub fn replication_names_of(prefix: &str, me: ServerId, count: u8) -> Vec<String> {
    pairs_of(me, count).into_iter().map(|pair| replication_name(prefix, pair)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_id_comes_from_the_ordinal() {
        for count in 1..=6u8 {
            for n in 0..count {
                let host = format!("altibase-sts-{n}");
                assert_eq!(server_id_from_hostname(&host, "altibase-sts", count), Ok(ServerId(n)));
                let fqdn = format!("altibase-sts-{n}.altibase-svc.default.svc.cluster.local");
                assert_eq!(server_id_from_hostname(&fqdn, "altibase-sts", count), Ok(ServerId(n)));
            }
            let over = format!("altibase-sts-{count}");
            assert_eq!(
                server_id_from_hostname(&over, "altibase-sts", count),
                Err(IdentityError::OutOfRange { hostname: over.clone(), ordinal: u64::from(count), count })
            );
        }
    }

    #[test]
    fn hostnames_of_another_shape_are_refused() {
        for host in [
            "altibase-sts",
            "altibase-sts-",
            "altibase-sts-x",
            "other-0",
            "altibase-sts-01",
            "altibase-sts--1",
            "altibase-sts-+1",
            "altibase-sts0",
        ] {
            assert!(matches!(server_id_from_hostname(host, "altibase-sts", 4), Err(IdentityError::Shape { .. })), "{host}");
        }
        let huge = "altibase-sts-99999999999999999999999";
        assert!(server_id_from_hostname(huge, "altibase-sts", 4).is_err());
    }

    #[test]
    fn identity_error_messages() {
        let e = server_id_from_hostname("web-0", "altibase-sts", 4).unwrap_err();
        assert_eq!(
            e.to_string(),
            "The hostname [web-0] is not of the form <AKU_STS_NAME>-<ordinal> with AKU_STS_NAME = altibase-sts; \
             run aku inside a pod of that StatefulSet (or set AKU_HOSTNAME)."
        );
        let e = server_id_from_hostname("altibase-sts-4", "altibase-sts", 4).unwrap_err();
        assert_eq!(
            e.to_string(),
            "The ordinal 4 of hostname [altibase-sts-4] is not below AKU_SERVER_COUNT = 4; \
             raise AKU_SERVER_COUNT (at most 6) or scale the StatefulSet down."
        );
    }

    #[test]
    fn a_long_or_invisible_hostname_is_quoted_cut_and_escaped() {
        let long = format!("{}\u{200b}", "h".repeat(10 << 20));
        let e = server_id_from_hostname(&long, "altibase-sts", 4).unwrap_err().to_string();
        assert!(e.starts_with(&format!("The hostname [{}…] is not", "h".repeat(64))), "{}", &e[..100]);
        assert!(e.len() < 300);
        let e = server_id_from_hostname("web\u{feff}-0", "web", 4).unwrap_err().to_string();
        assert!(e.starts_with("The hostname [web\\u{feff}-0] is not"), "{e}");
    }

    #[test]
    fn names_for_every_count() {
        for count in 1..=6u8 {
            let mut all = std::collections::BTreeSet::new();
            for me in 0..count {
                let names = replication_names_of("AKU_REP", ServerId(me), count);
                assert_eq!(names.len(), usize::from(count) - 1);
                for (name, peer) in names.iter().zip(peers_of(ServerId(me), count)) {
                    let (i, j) = (me.min(peer.0), me.max(peer.0));
                    assert_eq!(name, &format!("AKU_REP_{i}{j}"));
                }
                all.extend(names);
            }
            // A full mesh: count*(count-1)/2 distinct objects, each owned by its two servers.
            assert_eq!(all.len(), usize::from(count) * (usize::from(count) - 1) / 2);
        }
        assert_eq!(replication_names_of("P", ServerId(5), 6).last().unwrap(), "P_45");
        assert_eq!(replication_names_of("P", ServerId(2), 4), ["P_02", "P_12", "P_23"]);
    }

    #[test]
    fn pair_other_side() {
        let pair = Pair::new(ServerId(3), ServerId(1));
        assert_eq!((pair.low, pair.high), (ServerId(1), ServerId(3)));
        assert_eq!(pair.other(ServerId(1)), ServerId(3));
        assert_eq!(pair.other(ServerId(3)), ServerId(1));
        assert!(pair.contains(ServerId(3)) && !pair.contains(ServerId(0)));
    }
}
