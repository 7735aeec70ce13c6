//! The ranges services draw from: an IPv4 CIDR (`--service-cluster-ip-range`)
//! and a node port range (`--service-node-port-range`), each seen as offsets
//! `0..len`, and the random pick over those offsets that prefers the upper,
//! "dynamic" part of a range and leaves its lower, "static" part for
//! addresses and ports that clients ask for by value (as kube-apiserver's
//! allocators do since Kubernetes 1.24).

use rand::Rng;
use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// Why a range flag does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    /// The text is not `a.b.c.d/n` with an IPv4 address.
    #[error("{0:?} is not an IPv4 CIDR (such as 10.96.0.0/12)")]
    NotCidr(String),
    /// The prefix leaves more than 2^20 addresses, as kube-apiserver refuses.
    #[error("{0} is too large: for 32-bit addresses, the mask must be >= 12")]
    TooLarge(String),
    /// The prefix leaves no address between network and broadcast.
    #[error("{0} is too small: the mask must be <= 30")]
    TooSmall(String),
    /// The text is not `first-last` (or a single port).
    #[error("{0:?} is not a port range (such as 30000-32767)")]
    NotPortRange(String),
}

/// An IPv4 service network. Its first (network) and last (broadcast)
/// addresses are never handed out; the rest are offsets `0..len()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Cidr {
    network: u32,
    prefix: u8,
}

impl Ipv4Cidr {
    /// The network of `addr/prefix` (host bits cleared).
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Result<Ipv4Cidr, RangeError> {
        let text = format!("{addr}/{prefix}");
        if prefix < 12 {
            return Err(RangeError::TooLarge(text));
        }
        if prefix > 30 {
            return Err(RangeError::TooSmall(text));
        }
        let mask = u32::MAX << (32 - prefix);
        Ok(Ipv4Cidr {
            network: u32::from(addr) & mask,
            prefix,
        })
    }

    /// How many addresses services may get.
    pub fn len(&self) -> u32 {
        (1u32 << (32 - self.prefix)) - 2
    }

    /// Never true: a range has at least two usable addresses.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The offset of a usable address; `None` outside the range or for the
    /// network and broadcast addresses.
    pub fn offset(&self, ip: Ipv4Addr) -> Option<u32> {
        let n = u32::from(ip);
        let rel = n.checked_sub(self.network)?.checked_sub(1)?;
        (rel < self.len()).then_some(rel)
    }

    /// The address at `offset` (which must be below `len()`).
    pub fn addr(&self, offset: u32) -> Ipv4Addr {
        debug_assert!(offset < self.len());
        Ipv4Addr::from(self.network + 1 + offset)
    }

    /// The first usable address, which the `kubernetes` service holds.
    pub fn first(&self) -> Ipv4Addr {
        self.addr(0)
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", Ipv4Addr::from(self.network), self.prefix)
    }
}

impl FromStr for Ipv4Cidr {
    type Err = RangeError;

    fn from_str(s: &str) -> Result<Ipv4Cidr, RangeError> {
        let bad = || RangeError::NotCidr(s.to_owned());
        let (addr, prefix) = s.trim().split_once('/').ok_or_else(bad)?;
        let addr: Ipv4Addr = addr.parse().map_err(|_| bad())?;
        let prefix: u8 = prefix.parse().map_err(|_| bad())?;
        if prefix > 32 {
            return Err(bad());
        }
        Ipv4Cidr::new(addr, prefix)
    }
}

/// An inclusive range of node ports; ports are offsets `0..len()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    first: u16,
    last: u16,
}

impl PortRange {
    /// `first..=last`; `None` if `first > last` or `first` is 0.
    pub fn new(first: u16, last: u16) -> Option<PortRange> {
        (first > 0 && first <= last).then_some(PortRange { first, last })
    }

    /// How many ports the range holds.
    pub fn len(&self) -> u32 {
        u32::from(self.last - self.first) + 1
    }

    /// Never true: a range holds at least one port.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The offset of `port`, if in range.
    pub fn offset(&self, port: u16) -> Option<u32> {
        (self.first..=self.last)
            .contains(&port)
            .then(|| u32::from(port - self.first))
    }

    /// The port at `offset` (which must be below `len()`).
    pub fn port(&self, offset: u32) -> u16 {
        debug_assert!(offset < self.len());
        self.first + offset as u16
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.first, self.last)
    }
}

impl FromStr for PortRange {
    type Err = RangeError;

    fn from_str(s: &str) -> Result<PortRange, RangeError> {
        let bad = || RangeError::NotPortRange(s.to_owned());
        let s = s.trim();
        let (first, last) = s.split_once('-').unwrap_or((s, s));
        let first: u16 = first.trim().parse().map_err(|_| bad())?;
        let last: u16 = last.trim().parse().map_err(|_| bad())?;
        PortRange::new(first, last).ok_or_else(bad)
    }
}

/// The size of the static (lower) part of a range of `len` offsets:
/// `len / divisor`, kept within `min..=max` and never more than `len`.
pub fn static_band(len: u32, min: u32, max: u32, divisor: u32) -> u32 {
    (len / divisor).clamp(min, max).min(len)
}

/// A free offset in `0..len`: a random one in the dynamic part
/// `band..len` first, then in the static part `0..band`; `None` when every
/// offset is used. From a random start the scan goes up and wraps, so it
/// finds a free offset in one pass however full the range is.
pub fn pick_free(
    len: u32,
    band: u32,
    rng: &mut impl Rng,
    used: impl Fn(u32) -> bool,
) -> Option<u32> {
    let scan =
        |lo: u32, hi: u32, start: u32| (start..hi).chain(lo..start).find(|&offset| !used(offset));
    let band = band.min(len);
    [(band, len), (0, band)]
        .into_iter()
        .filter(|(lo, hi)| lo < hi)
        .find_map(|(lo, hi)| scan(lo, hi, rng.random_range(lo..hi)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn default_service_cidr_math() {
        let cidr: Ipv4Cidr = "10.96.0.0/12".parse().unwrap();
        assert_eq!(cidr.to_string(), "10.96.0.0/12");
        assert_eq!(cidr.len(), (1 << 20) - 2);
        assert_eq!(cidr.first(), Ipv4Addr::new(10, 96, 0, 1));
        assert_eq!(cidr.offset(Ipv4Addr::new(10, 96, 0, 1)), Some(0));
        assert_eq!(cidr.offset(Ipv4Addr::new(10, 96, 0, 10)), Some(9));
        // Network and broadcast addresses are not offered.
        assert_eq!(cidr.offset(Ipv4Addr::new(10, 96, 0, 0)), None);
        assert_eq!(cidr.offset(Ipv4Addr::new(10, 111, 255, 255)), None);
        assert_eq!(
            cidr.offset(Ipv4Addr::new(10, 111, 255, 254)),
            Some(cidr.len() - 1)
        );
        assert_eq!(cidr.offset(Ipv4Addr::new(10, 112, 0, 1)), None);
        assert_eq!(cidr.offset(Ipv4Addr::new(10, 95, 255, 255)), None);
        assert_eq!(cidr.addr(cidr.len() - 1), Ipv4Addr::new(10, 111, 255, 254));
    }

    #[test]
    fn cidr_parsing() {
        // Host bits are cleared, as net.ParseCIDR does.
        let c: Ipv4Cidr = "10.96.3.7/24".parse().unwrap();
        assert_eq!(c.to_string(), "10.96.3.0/24");
        assert_eq!(c.len(), 254);
        assert!(matches!(
            "10.0.0.0/8".parse::<Ipv4Cidr>(),
            Err(RangeError::TooLarge(_))
        ));
        assert!(matches!(
            "10.0.0.0/31".parse::<Ipv4Cidr>(),
            Err(RangeError::TooSmall(_))
        ));
        for bad in ["10.0.0.0", "fd00::/108", "10.0.0.0/33", "x/12"] {
            assert!(
                matches!(bad.parse::<Ipv4Cidr>(), Err(RangeError::NotCidr(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn port_range_math_and_parsing() {
        let r: PortRange = "30000-32767".parse().unwrap();
        assert_eq!(r.len(), 2768);
        assert_eq!(r.offset(30000), Some(0));
        assert_eq!(r.offset(32767), Some(2767));
        assert_eq!(r.offset(29999), None);
        assert_eq!(r.offset(32768), None);
        assert_eq!(r.port(5), 30005);
        assert_eq!(r.to_string(), "30000-32767");
        assert_eq!("8080".parse::<PortRange>().unwrap().len(), 1);
        for bad in ["", "a-b", "32767-30000", "0-10", "1-70000"] {
            assert!(bad.parse::<PortRange>().is_err(), "{bad}");
        }
    }

    #[test]
    fn static_bands_as_kubernetes_sizes_them() {
        // IPs: len/16 within 16..=256; ports: len/32 within 16..=128.
        assert_eq!(static_band((1 << 20) - 2, 16, 256, 16), 256);
        assert_eq!(static_band(254, 16, 256, 16), 16);
        assert_eq!(static_band(2768, 16, 128, 32), 86);
        assert_eq!(static_band(4, 16, 128, 32), 4);
    }

    #[test]
    fn pick_prefers_the_dynamic_part_then_fills_everything() {
        let mut rng = rand::rng();
        let len = 64;
        let band = 16;
        let mut used = HashSet::new();
        for i in 0..len {
            let o = pick_free(len, band, &mut rng, |o| used.contains(&o)).unwrap();
            assert!(used.insert(o), "offset {o} handed out twice");
            if i < len - band {
                assert!(o >= band, "static offset {o} handed out early");
            }
        }
        assert_eq!(used.len(), len as usize);
        assert_eq!(pick_free(len, band, &mut rng, |o| used.contains(&o)), None);
    }

    #[test]
    fn pick_is_random_not_sequential() {
        let mut rng = rand::rng();
        let picks: HashSet<u32> = (0..20)
            .map(|_| pick_free(1 << 20, 256, &mut rng, |_| false).unwrap())
            .collect();
        assert!(picks.len() > 15, "{picks:?}");
    }
}
