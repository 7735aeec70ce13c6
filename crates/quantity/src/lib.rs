//! Kubernetes resource quantities (`100m`, `1.5Gi`, `1e3`).
//!
//! [`parse`] reads any quantity string without panicking; a [`Quantity`]
//! gives its value at a scale, rounded up as Kubernetes' `Value()` and
//! `MilliValue()` round, compares exactly, and prints itself in the
//! canonical form Kubernetes serializes (`0.5` is stored as `500m`,
//! `1024Mi` as `1Gi`), after the rules of apimachinery's
//! `Quantity.CanonicalizeBytes`.

use std::cmp::Ordering;

/// The pattern Kubernetes names when a quantity cannot be read.
pub const PATTERN: &str = "^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$";

/// Why a quantity string could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    /// The string is empty (after trimming spaces).
    #[error("quantity is empty")]
    Empty,
    /// The number part has no digits, e.g. "Gi" or ".".
    #[error("quantity {0:?} has no digits")]
    NoDigits(String),
    /// The suffix is none of Kubernetes' suffixes (n u m k M G T P E Ki Mi Gi Ti Pi Ei, `e<exp>`).
    #[error("quantity {0:?} has an unknown suffix")]
    BadSuffix(String),
}

/// How a quantity was written, which decides how it is printed back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Decimal SI suffixes (`m`, `k`, `M`, ...) or none.
    DecimalSi,
    /// Binary suffixes (`Ki`, `Mi`, ...).
    BinarySi,
    /// An exponent (`1e3`).
    DecimalExponent,
}

/// A parsed quantity: `sign * mantissa * 10^exp10 * 2^exp2`, as written
/// (before Kubernetes' rounding to nano units, which [`Quantity::canonical`]
/// and [`Quantity::cmp_value`] apply).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantity {
    negative: bool,
    mantissa: u128,
    exp10: i32,
    exp2: u32,
    format: Format,
}

/// Mantissas stop growing past this many significant digits; the rest only shifts the exponent.
const MANTISSA_LIMIT: u128 = 10u128.pow(36);

/// Parses a Kubernetes quantity string.
pub fn parse(input: &str) -> Result<Quantity, QuantityError> {
    let s = input.trim();
    if s.is_empty() {
        return Err(QuantityError::Empty);
    }
    let bytes = s.as_bytes();
    let mut i = 0;
    let mut negative = false;
    if bytes[0] == b'+' || bytes[0] == b'-' {
        negative = bytes[0] == b'-';
        i = 1;
    }
    let mut mantissa: u128 = 0;
    let mut exp10: i32 = 0;
    let mut digits = 0usize;
    let mut seen_dot = false;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_digit() {
            digits += 1;
            let d = u128::from(b - b'0');
            if mantissa < MANTISSA_LIMIT {
                mantissa = mantissa * 10 + d;
                if seen_dot {
                    exp10 -= 1;
                }
            } else if !seen_dot {
                exp10 = exp10.saturating_add(1);
            }
        } else if b == b'.' && !seen_dot {
            seen_dot = true;
        } else {
            break;
        }
        i += 1;
    }
    if digits == 0 {
        return Err(QuantityError::NoDigits(input.to_string()));
    }
    let suffix = &s[i..];
    let (e10, e2) = match suffix {
        "" => (0, 0),
        "n" => (-9, 0),
        "u" => (-6, 0),
        "m" => (-3, 0),
        "k" => (3, 0),
        "M" => (6, 0),
        "G" => (9, 0),
        "T" => (12, 0),
        "P" => (15, 0),
        "E" => (18, 0),
        "Ki" => (0, 10),
        "Mi" => (0, 20),
        "Gi" => (0, 30),
        "Ti" => (0, 40),
        "Pi" => (0, 50),
        "Ei" => (0, 60),
        _ if suffix.starts_with('e') || suffix.starts_with('E') => (
            parse_exponent(&suffix[1..])
                .ok_or_else(|| QuantityError::BadSuffix(input.to_string()))?,
            0,
        ),
        _ => return Err(QuantityError::BadSuffix(input.to_string())),
    };
    let format = if e2 > 0 {
        Format::BinarySi
    } else if suffix.len() > 1 {
        Format::DecimalExponent
    } else {
        Format::DecimalSi
    };
    Ok(Quantity {
        negative,
        mantissa,
        exp10: exp10.saturating_add(e10),
        exp2: e2,
        format,
    })
}

/// Reads the signed integer after `e`, clamped to a range that cannot overflow later arithmetic.
fn parse_exponent(s: &str) -> Option<i32> {
    let (neg, digits) = match s.as_bytes().first()? {
        b'+' => (false, &s[1..]),
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut v: i32 = 0;
    for b in digits.bytes() {
        v = v
            .saturating_mul(10)
            .saturating_add(i32::from(b - b'0'))
            .min(100_000);
    }
    Some(if neg { -v } else { v })
}

/// The largest magnitude Kubernetes keeps (`2^63 - 1`); larger amounts are capped to it.
const MAX_AMOUNT: u128 = i64::MAX as u128;

/// Kubernetes keeps no digit below a nano unit.
const NANO: i32 = -9;

impl Quantity {
    /// The value times `10^scale`, rounded up (towards +infinity) like Kubernetes'
    /// `Value()`/`MilliValue()`, saturated to the `i64` range.
    pub fn scaled(&self, scale: i32) -> i64 {
        if self.mantissa == 0 {
            return 0;
        }
        let mut num = self.mantissa;
        if self.exp2 > 0 {
            if num.leading_zeros() < self.exp2 {
                return self.saturate();
            }
            num <<= self.exp2;
        }
        let e10 = self.exp10.saturating_add(scale);
        let magnitude: u128 = if e10 >= 0 {
            let mut n = num;
            for _ in 0..e10 {
                match n.checked_mul(10) {
                    Some(v) if v <= i64::MAX as u128 => n = v,
                    _ => return self.saturate(),
                }
            }
            n
        } else {
            let shift = e10.unsigned_abs();
            if shift > 38 {
                // Far below one unit: rounds up to 1 when positive, down to 0 when negative.
                return if self.negative { 0 } else { 1 };
            }
            let den = 10u128.pow(shift);
            let q = num / den;
            let rounded_up = !num.is_multiple_of(den) && !self.negative;
            q + u128::from(rounded_up)
        };
        let clamped = magnitude.min(i64::MAX as u128) as i64;
        if self.negative {
            -clamped
        } else {
            clamped
        }
    }

    /// The value in whole units (bytes for memory), rounded up.
    pub fn value(&self) -> i64 {
        self.scaled(0)
    }

    /// The value in thousandths (milli-cores for cpu), rounded up.
    pub fn milli_value(&self) -> i64 {
        self.scaled(3)
    }

    fn saturate(&self) -> i64 {
        if self.negative {
            i64::MIN
        } else {
            i64::MAX
        }
    }

    /// Whether the quantity is below zero (zero is not).
    pub fn is_negative(&self) -> bool {
        self.negative && self.mantissa != 0
    }

    /// The amount as Kubernetes holds it: the magnitude rounded up (away
    /// from zero) to whole nano units and capped at `2^63 - 1` units,
    /// as `(digits, exp10)` with `exp10 >= -9`.
    fn amount(&self) -> (u128, i32) {
        // Binary suffixes are at most 2^60.
        let Some(mut m) = self.mantissa.checked_mul(1u128 << self.exp2.min(64)) else {
            return (MAX_AMOUNT, 0);
        };
        let mut e = self.exp10;
        if e < NANO {
            let shift = (NANO - e).unsigned_abs();
            m = if shift > 38 {
                u128::from(m != 0)
            } else {
                m.div_ceil(10u128.pow(shift))
            };
            e = NANO;
        }
        // Over the cap when m * 10^e > MAX_AMOUNT.
        let over = if e >= 0 {
            10u128
                .checked_pow(e.unsigned_abs())
                .and_then(|p| m.checked_mul(p))
                .is_none_or(|v| v > MAX_AMOUNT)
        } else {
            m > MAX_AMOUNT * 10u128.pow(e.unsigned_abs())
        };
        if over && m != 0 {
            (MAX_AMOUNT, 0)
        } else {
            (m, e)
        }
    }

    /// The amount in nano units, signed (exact: fits an `i128`).
    fn nanos(&self) -> i128 {
        let (m, e) = self.amount();
        // m * 10^e <= 2^63 and e >= -9, so m * 10^(e + 9) < 2^127.
        let n = (m * 10u128.pow((e - NANO).unsigned_abs())) as i128;
        if self.negative {
            -n
        } else {
            n
        }
    }

    /// The sum of two quantities, in the first one's format (Kubernetes'
    /// `Add`), exact to the nano unit.
    pub fn plus(&self, other: &Quantity) -> Quantity {
        let total = self.nanos().saturating_add(other.nanos());
        Quantity {
            negative: total < 0,
            mantissa: total.unsigned_abs(),
            exp10: NANO,
            exp2: 0,
            format: self.format,
        }
    }

    /// Compares the values Kubernetes holds (after its rounding).
    pub fn cmp_value(&self, other: &Quantity) -> Ordering {
        self.nanos().cmp(&other.nanos())
    }

    /// The string Kubernetes serializes this quantity as.
    pub fn canonical(&self) -> String {
        let (mut m, mut e) = self.amount();
        if m == 0 {
            return "0".into();
        }
        let sign = if self.negative { "-" } else { "" };
        let integer = e >= 0 || m.is_multiple_of(10u128.pow(e.unsigned_abs()));
        let whole = |m: u128, e: i32| {
            if e >= 0 {
                m * 10u128.pow(e.unsigned_abs())
            } else {
                m / 10u128.pow(e.unsigned_abs())
            }
        };
        // Binary prints only whole amounts of at least 1Ki; the rest is decimal.
        if self.format == Format::BinarySi && integer && whole(m, e) >= 1024 {
            let mut n = whole(m, e);
            let mut power = 0;
            while power < 6 && n.is_multiple_of(1024) {
                n /= 1024;
                power += 1;
            }
            let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][power];
            return format!("{sign}{n}{suffix}");
        }
        while m.is_multiple_of(10) {
            m /= 10;
            e += 1;
        }
        while e.rem_euclid(3) != 0 {
            m *= 10;
            e -= 1;
        }
        if self.format == Format::DecimalExponent {
            return if e == 0 {
                format!("{sign}{m}")
            } else {
                format!("{sign}{m}e{e}")
            };
        }
        let suffix = match e {
            -9 => "n",
            -6 => "u",
            -3 => "m",
            0 => "",
            3 => "k",
            6 => "M",
            9 => "G",
            12 => "T",
            15 => "P",
            _ => "E",
        };
        format!("{sign}{m}{suffix}")
    }
}

impl Quantity {
    /// The quantity rounded up (away from zero) to whole milli units, as
    /// Kubernetes defaults every amount of a resource list; `None` when
    /// it already is whole.
    fn rounded_up_to_milli(&self) -> Option<Quantity> {
        let (m, e) = self.amount();
        if e >= -3 {
            return None;
        }
        let den = 10u128.pow((-3 - e).unsigned_abs());
        if m.is_multiple_of(den) {
            return None;
        }
        Some(Quantity {
            mantissa: m.div_ceil(den),
            exp10: -3,
            exp2: 0,
            format: if self.format == Format::BinarySi {
                Format::DecimalSi
            } else {
                self.format
            },
            ..*self
        })
    }
}

/// Whether Kubernetes keeps `input` as written: its parser's fast path
/// caches the string when it is already canonical-looking (a decimal
/// amount at a scale that is a multiple of three, not ending in `000`;
/// a binary one not divisible by 8), and prints the cache.
fn kept_as_written(input: &str, q: &Quantity) -> bool {
    let body = input.strip_prefix(['+', '-']).unwrap_or(input);
    let number_end = body
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(body.len());
    let number = &body[..number_end];
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let whole = whole.trim_start_matches('0');
    // The digits without the point, as the parser shifts them.
    let digits = || whole.bytes().chain(fraction.bytes());
    let len = whole.len() + fraction.len();
    match q.format {
        Format::BinarySi => {
            let power = i64::from(q.exp2);
            let precision = 15 - whole.len() as i64 - (power * 3 / 10) - 1;
            let Ok(value) = whole.parse::<i64>() else {
                return false;
            };
            fraction.is_empty()
                && precision >= 0
                && value.checked_mul(1i64 << power).is_some()
                && value & 0x07 != 0
        }
        Format::DecimalSi | Format::DecimalExponent => {
            // With at most 18 digits the parser's exponent is the scale
            // of the digits (suffix exponent less the fraction's length).
            let scale = i64::from(q.exp10);
            let ends_in_000 = len >= 3 && digits().rev().take(3).all(|b| b == b'0');
            len <= 18
                && scale >= -9
                && scale % 3 == 0
                && !ends_in_000
                && digits().next().is_some_and(|b| b != b'0')
        }
    }
}

/// The string Kubernetes stores for a quantity written as `input`: as
/// written where its parser keeps the text, else the canonical form. In a
/// resource list (`in_resource_list`) amounts are first rounded up to
/// milli units.
pub fn serialize(input: &str, in_resource_list: bool) -> Result<String, QuantityError> {
    let q = parse(input)?;
    if in_resource_list {
        if let Some(rounded) = q.rounded_up_to_milli() {
            return Ok(rounded.canonical());
        }
    }
    if q.mantissa == 0 {
        return Ok("0".into());
    }
    if kept_as_written(input.trim(), &q) {
        return Ok(input.trim().to_owned());
    }
    Ok(q.canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn milli(s: &str) -> i64 {
        parse(s).unwrap().milli_value()
    }
    fn value(s: &str) -> i64 {
        parse(s).unwrap().value()
    }
    fn canonical(s: &str) -> String {
        parse(s).unwrap().canonical()
    }
    fn stored(s: &str, in_list: bool) -> String {
        serialize(s, in_list).unwrap()
    }

    #[test]
    fn parses_kubernetes_quantities() {
        assert_eq!(milli("100m"), 100);
        assert_eq!(milli("0.5"), 500);
        assert_eq!(milli("1"), 1000);
        assert_eq!(milli("1e3"), 1_000_000);
        assert_eq!(value("1e3"), 1000);
        assert_eq!(value("1E3"), 1000);
        assert_eq!(value("1.5Gi"), 1_610_612_736);
        assert_eq!(value("128974848"), 128_974_848);
        assert_eq!(value("129e6"), 129_000_000);
        assert_eq!(value("123Mi"), 128_974_848);
        assert_eq!(value("1k"), 1000);
        assert_eq!(value("1Ki"), 1024);
        assert_eq!(value("2E"), 2_000_000_000_000_000_000);
        assert_eq!(value("+2"), 2);
        assert_eq!(value(" 3 "), 3);
        assert_eq!(value(".5"), 1, "rounds up like Value()");
        assert_eq!(value("5."), 5);
        assert_eq!(milli("1u"), 1, "rounds up");
        assert_eq!(milli("1n"), 1);
        assert_eq!(milli("0"), 0);
        assert_eq!(milli("-100m"), -100);
        assert_eq!(value("1e-3"), 1);
    }

    #[test]
    fn saturates_instead_of_overflowing() {
        assert_eq!(value("9Ei"), i64::MAX);
        assert_eq!(
            value("99999999999999999999999999999999999999999999999"),
            i64::MAX
        );
        assert_eq!(value("1e100000000"), i64::MAX);
        assert!(value("-9Ei") <= -i64::MAX);
        assert_eq!(milli("1e-1000"), 1);
        assert_eq!(
            value("0.000000000000000000000000000000000000000000000000001"),
            1
        );
    }

    #[test]
    fn rejects_garbage_without_panicking() {
        for bad in [
            "", " ", "Gi", ".", "-", "1x", "1e", "1e+", "1Gib", "1..2", "1.2.3", "é", "1 Gi",
            "0x10", "abc",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn prints_the_canonical_form_kubernetes_stores() {
        for (written, stored) in [
            ("0.5", "500m"),
            ("1000", "1k"),
            ("1000m", "1"),
            ("1100", "1100"),
            ("1500", "1500"),
            ("100m", "100m"),
            ("0.1", "100m"),
            ("1.0001", "1000100u"),
            ("1.5", "1500m"),
            ("1.5Gi", "1536Mi"),
            ("1024Mi", "1Gi"),
            ("100Mi", "100Mi"),
            ("0.5Gi", "512Mi"),
            ("0.5Ki", "512"),
            ("1023", "1023"),
            ("1e3", "1e3"),
            ("1E3", "1e3"),
            ("1.5e3", "1500"),
            ("2e-3", "2e-3"),
            ("0", "0"),
            ("0.0", "0"),
            ("0Gi", "0"),
            ("-1", "-1"),
            ("-0.5", "-500m"),
            ("1n", "1n"),
            ("0.1n", "1n"),
            ("1.5n", "2n"),
            ("12345678912345", "12345678912345"),
            ("2E", "2E"),
            ("9Ei", "9223372036854775807"),
            ("5.", "5"),
            (".5", "500m"),
        ] {
            assert_eq!(canonical(written), stored, "{written}");
        }
    }

    #[test]
    fn keeps_what_kubernetes_keeps_as_written() {
        for (written, in_list, expected) in [
            ("1E3", false, "1E3"),
            ("+1", false, "+1"),
            ("01", false, "01"),
            ("1500", false, "1500"),
            ("100Mi", true, "100Mi"),
            ("500m", true, "500m"),
            ("1000", true, "1k"),
            ("1024Mi", true, "1Gi"),
            ("0.5", true, "500m"),
            ("1.0001", false, "1000100u"),
            ("1.0001", true, "1001m"),
            ("0.0000000001", true, "1m"),
            ("1.1Ki", true, "1126400m"),
            ("12e-2", false, "120e-3"),
            ("1000k", false, "1M"),
            ("0", true, "0"),
            ("0.0", true, "0"),
        ] {
            assert_eq!(stored(written, in_list), expected, "{written} {in_list}");
        }
    }

    #[test]
    fn compares_the_values_kubernetes_holds() {
        let q = |s: &str| parse(s).unwrap();
        assert_eq!(q("1").cmp_value(&q("1000m")), Ordering::Equal);
        assert_eq!(q("1Gi").cmp_value(&q("1G")), Ordering::Greater);
        assert_eq!(q("-1").cmp_value(&q("0")), Ordering::Less);
        assert_eq!(q("1e-12").cmp_value(&q("1n")), Ordering::Equal);
        assert!(q("-1m").is_negative());
        assert_eq!(q("700m").plus(&q("700m")).canonical(), "1400m");
        assert_eq!(q("1Gi").plus(&q("1Gi")).canonical(), "2Gi");
        assert!(!q("-0").is_negative());
    }
}
