//! IP addresses and CIDRs as Kubernetes' strict validation takes them
//! (`IsValidIP`, `IsValidCIDR`): canonical text only, no leading zeros,
//! no IPv4-mapped IPv6, no host bits set in a CIDR.

use std::net::IpAddr;

/// Why `s` is no valid IP address, in Kubernetes' words; `None` if it is.
pub fn ip_error(s: &str) -> Option<String> {
    let Ok(ip) = s.parse::<IpAddr>() else {
        return Some(if leading_zeros(s) {
            "must not have leading 0s".into()
        } else {
            "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)".into()
        });
    };
    if let IpAddr::V6(v6) = ip {
        if v6.to_ipv4_mapped().is_some() {
            return Some("must not be an IPv4-mapped IPv6 address".into());
        }
    }
    let canonical = ip.to_string();
    (canonical != s).then(|| format!("must be in canonical form ({canonical:?})"))
}

/// Why `s` is no valid CIDR, in Kubernetes' words; `None` if it is.
pub fn cidr_error(s: &str) -> Option<String> {
    const INVALID: &str = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)";
    let Some((addr, prefix)) = s.split_once('/') else {
        return Some(INVALID.into());
    };
    if (prefix.len() > 1 && prefix.starts_with('0')) || leading_zeros(addr) {
        return Some("must not have leading 0s in IP or prefix length".into());
    }
    let (Ok(ip), Ok(bits)) = (addr.parse::<IpAddr>(), prefix.parse::<u8>()) else {
        return Some(INVALID.into());
    };
    let width = if ip.is_ipv4() { 32 } else { 128 };
    if bits > width {
        return Some(INVALID.into());
    }
    if let IpAddr::V6(v6) = ip {
        if v6.to_ipv4_mapped().is_some() {
            return Some("must not have an IPv4-mapped IPv6 address".into());
        }
    }
    let value: u128 = match ip {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    };
    let host_bits = u32::from(width - bits);
    let host_mask = if host_bits >= 128 {
        u128::MAX
    } else {
        (1u128 << host_bits) - 1
    };
    if value & host_mask != 0 {
        return Some("must not have bits set beyond the prefix length".into());
    }
    let canonical = format!("{ip}/{bits}");
    (canonical != s).then(|| format!("must be in canonical form ({canonical:?})"))
}

/// Whether an IPv4-looking text has an octet with a leading zero.
fn leading_zeros(s: &str) -> bool {
    s.contains('.') && !s.contains(':') && s.split('.').any(|o| o.len() > 1 && o.starts_with('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_must_be_canonical() {
        assert_eq!(ip_error("10.96.0.1"), None);
        assert_eq!(ip_error("2001:db8::1"), None);
        assert_eq!(ip_error("010.96.0.1").unwrap(), "must not have leading 0s");
        assert!(ip_error("2001:DB8::1")
            .unwrap()
            .starts_with("must be in canonical form"));
        assert!(ip_error("::ffff:1.2.3.4").unwrap().contains("IPv4-mapped"));
        assert!(ip_error("nope")
            .unwrap()
            .starts_with("must be a valid IP address"));
    }

    #[test]
    fn cidrs_must_be_canonical_without_host_bits() {
        assert_eq!(cidr_error("10.96.0.0/12"), None);
        assert_eq!(cidr_error("2001:db8::/64"), None);
        assert_eq!(
            cidr_error("10.96.0.1/12").unwrap(),
            "must not have bits set beyond the prefix length"
        );
        assert!(cidr_error("10.96.0.0/33")
            .unwrap()
            .starts_with("must be a valid CIDR"));
        assert!(cidr_error("10.96.0.0/012").unwrap().contains("leading 0s"));
        assert!(cidr_error("10.96.0.0")
            .unwrap()
            .starts_with("must be a valid CIDR"));
        assert!(cidr_error("2001:DB8::/64")
            .unwrap()
            .starts_with("must be in canonical form"));
    }
}
