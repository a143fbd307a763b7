//! Values as the JVM holds them after Druid's protobuf conversion, and the text Java makes of
//! them (`String.valueOf`): Druid stores that text when a number, a list or a map lands in a
//! string column. Written from the Java library's documented behaviour: `Double.toString`,
//! `HashMap` iteration order (bucket order of the table the map was created with), and
//! `AbstractMap`/`AbstractCollection.toString`.

use base64::Engine as _;

/// A value after conversion: the Java type matters (an `int32` is an `Integer`, a `float` a
/// `Float`, `bytes` a `byte[]`), because Druid's columns convert by type.
#[derive(Debug, Clone, PartialEq)]
pub enum Java {
    /// `null`.
    Null,
    /// `java.lang.Boolean`.
    Bool(bool),
    /// `java.lang.Integer` (`int32`, `uint32`, `sint32`, `fixed32`, `sfixed32`).
    Int(i32),
    /// `java.lang.Long` (the 64-bit integer types).
    Long(i64),
    /// `java.lang.Float`.
    Float(f32),
    /// `java.lang.Double`.
    Double(f64),
    /// `java.lang.String`.
    Str(String),
    /// `byte[]`.
    Bytes(Vec<u8>),
    /// `java.util.List`.
    List(Vec<Java>),
    /// `java.util.HashMap` with string keys.
    Map(JavaMap),
}

/// A `java.util.HashMap<String, Object>`: entries in insertion order and the size of its
/// table, which together give Java's iteration order.
#[derive(Debug, Clone, PartialEq)]
pub struct JavaMap {
    entries: Vec<(String, Java)>,
    table: usize,
}

impl JavaMap {
    /// `Maps.newHashMapWithExpectedSize(expected)` (Guava 32, on Druid 33's classpath), as
    /// Druid's converter creates its maps: a capacity of `ceil(expected / 0.75)`, so the table
    /// never resizes for that many entries.
    pub fn with_expected_size(expected: usize) -> Self {
        let capacity = if expected < 3 { expected + 1 } else { (expected * 4).div_ceil(3) };
        Self { entries: Vec::new(), table: capacity.next_power_of_two().max(1) }
    }

    /// `put`: a key already present keeps its place and takes the new value.
    pub fn insert(&mut self, key: String, value: Java) {
        if let Some(entry) = self.entries.iter_mut().find(|(existing, _)| *existing == key) {
            entry.1 = value;
            return;
        }
        self.entries.push((key, value));
        // HashMap doubles its table when the size passes 3/4 of it.
        while self.entries.len() * 4 > self.table * 3 {
            self.table *= 2;
        }
    }

    /// `get`.
    pub fn get(&self, key: &str) -> Option<&Java> {
        self.entries.iter().find(|(existing, _)| existing == key).map(|(_, value)| value)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it has no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entries in Java's iteration order: by bucket (`(n - 1) & spread(hashCode)`), then in
    /// insertion order within a bucket.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Java)> {
        let mask = self.table - 1;
        let mut ordered: Vec<(usize, usize)> = self
            .entries
            .iter()
            .enumerate()
            .map(|(index, (key, _))| (spread(string_hash(key)) as usize & mask, index))
            .collect();
        ordered.sort_unstable();
        ordered.into_iter().map(|(_, index)| (self.entries[index].0.as_str(), &self.entries[index].1))
    }
}

/// `String.hashCode()`: over UTF-16 code units, wrapping.
fn string_hash(text: &str) -> u32 {
    text.encode_utf16().fold(0_u32, |hash, unit| hash.wrapping_mul(31).wrapping_add(u32::from(unit)))
}

/// `HashMap.hash()`: the high bits folded into the low ones.
fn spread(hash: u32) -> u32 {
    hash ^ (hash >> 16)
}

impl Java {
    /// `String.valueOf(value)`; `None` where Java prints an identity (`[B@1b6d3586` for a
    /// `byte[]` inside a list or map), which nobody can predict.
    pub fn java_string(&self) -> Option<String> {
        let mut out = String::new();
        self.write(&mut out).then_some(out)
    }

    fn write(&self, out: &mut String) -> bool {
        match self {
            Self::Null => out.push_str("null"),
            Self::Bool(value) => out.push_str(if *value { "true" } else { "false" }),
            Self::Int(value) => out.push_str(&value.to_string()),
            Self::Long(value) => out.push_str(&value.to_string()),
            Self::Float(value) => out.push_str(&float_string(*value)),
            Self::Double(value) => out.push_str(&double_string(*value)),
            Self::Str(value) => out.push_str(value),
            Self::Bytes(_) => return false,
            Self::List(items) => {
                out.push('[');
                for (index, item) in items.iter().enumerate() {
                    if index > 0 {
                        out.push_str(", ");
                    }
                    if !item.write(out) {
                        return false;
                    }
                }
                out.push(']');
            }
            Self::Map(map) => {
                out.push('{');
                for (index, (key, value)) in map.iter().enumerate() {
                    if index > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(key);
                    out.push('=');
                    if !value.write(out) {
                        return false;
                    }
                }
                out.push('}');
            }
        }
        true
    }

    /// The value as JSON, as Jackson serializes it (`byte[]` as base64 text, `NaN` as text).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            Self::Null => Value::Null,
            Self::Bool(value) => Value::Bool(*value),
            Self::Int(value) => Value::from(*value),
            Self::Long(value) => Value::from(*value),
            Self::Float(value) => serde_json::Number::from_f64(f64::from(*value))
                .map_or_else(|| Value::String(float_string(*value)), Value::Number),
            Self::Double(value) => serde_json::Number::from_f64(*value)
                .map_or_else(|| Value::String(double_string(*value)), Value::Number),
            Self::Str(value) => Value::String(value.clone()),
            Self::Bytes(bytes) => Value::String(base64::engine::general_purpose::STANDARD.encode(bytes)),
            Self::List(items) => Value::Array(items.iter().map(Self::to_json).collect()),
            Self::Map(map) => {
                Value::Object(map.iter().map(|(key, value)| (key.to_owned(), value.to_json())).collect())
            }
        }
    }
}

/// `Double.toString`: plain notation for 10^-3 <= |d| < 10^7 (always one fraction digit),
/// computerized scientific notation otherwise (`1.0E7`, `1.234E-5`), from the shortest digits
/// that read back as the same double.
pub fn double_string(value: f64) -> String {
    java_number(&format!("{value:e}"), value)
}

/// `Float.toString`: the rules of [`double_string`] over the shortest float digits.
pub fn float_string(value: f32) -> String {
    java_number(&format!("{value:e}"), f64::from(value))
}

/// Java's text of a number whose shortest digits are `shortest`; `value` (widened when a
/// float: same sign, zero, special values and range) picks the notation.
fn java_number(shortest: &str, value: f64) -> String {
    if value.is_nan() {
        return "NaN".into();
    }
    if value.is_infinite() {
        return if value > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    java_decimal(shortest, value == 0.0, value.is_sign_negative(), value.abs() >= 1e-3 && value.abs() < 1e7)
}

/// Rewrites Rust's shortest scientific form (`-1.2345e-5`) the way Java prints it.
fn java_decimal(scientific: &str, zero: bool, negative: bool, plain: bool) -> String {
    let sign = if negative { "-" } else { "" };
    if zero {
        return format!("{sign}0.0");
    }
    let unsigned = scientific.trim_start_matches('-');
    let (mantissa, exponent) = unsigned.split_once('e').unwrap_or((unsigned, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    if plain {
        // The decimal point goes after digit `exponent + 1` (exponent in -3..=6).
        let point = exponent + 1;
        let (whole, fraction) = if point <= 0 {
            let zeros = usize::try_from(-point).unwrap_or(0);
            ("0".to_owned(), format!("{}{digits}", "0".repeat(zeros)))
        } else {
            let point = usize::try_from(point).unwrap_or(0);
            if digits.len() <= point {
                (format!("{digits}{}", "0".repeat(point - digits.len())), String::new())
            } else {
                (digits[..point].to_owned(), digits[point..].to_owned())
            }
        };
        let fraction = if fraction.is_empty() { "0".to_owned() } else { fraction };
        format!("{sign}{whole}.{fraction}")
    } else {
        let (first, rest) = digits.split_at(1);
        let rest = if rest.is_empty() { "0" } else { rest };
        format!("{sign}{first}.{rest}E{exponent}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_print_like_java() {
        for (value, java) in [
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.0, "1.0"),
            (100.0, "100.0"),
            (0.001, "0.001"),
            (0.0001, "1.0E-4"),
            (1_234_567.0, "1234567.0"),
            (12_345_678.0, "1.2345678E7"),
            (1e21, "1.0E21"),
            (-1.5, "-1.5"),
            (0.1 + 0.2, "0.30000000000000004"),
            (f64::MAX, "1.7976931348623157E308"),
            (f64::MIN_POSITIVE, "2.2250738585072014E-308"),
            (f64::NAN, "NaN"),
            (f64::NEG_INFINITY, "-Infinity"),
        ] {
            assert_eq!(double_string(value), java, "{value}");
        }
    }

    #[test]
    fn floats_print_like_java() {
        for (value, java) in
            [(1.1_f32, "1.1"), (f32::MAX, "3.4028235E38"), (1e-10_f32, "1.0E-10"), (3.0, "3.0")]
        {
            assert_eq!(float_string(value), java, "{value}");
        }
    }

    #[test]
    fn hash_map_order_follows_buckets() {
        // "b" (98) and "a" (97) land in buckets 2 and 1 of a 4-slot table.
        let mut map = JavaMap::with_expected_size(2);
        map.insert("b".into(), Java::Int(2));
        map.insert("a".into(), Java::Int(1));
        assert_eq!(Java::Map(map).java_string().unwrap(), "{a=1, b=2}");
        assert_eq!(string_hash("hello"), 99_162_322);
        // Three entries: a 4-slot table, where "x" and "color" share bucket 0 (measured on
        // Druid 33: `{x=-4, color=RED, label=here}`).
        let mut point = JavaMap::with_expected_size(3);
        for (key, value) in
            [("x", Java::Long(-4)), ("label", Java::Str("here".into())), ("color", Java::Str("RED".into()))]
        {
            point.insert(key.into(), value);
        }
        assert_eq!(Java::Map(point).java_string().unwrap(), "{x=-4, color=RED, label=here}");
    }

    #[test]
    fn identity_strings_are_not_predicted() {
        assert_eq!(Java::List(vec![Java::Bytes(vec![1])]).java_string(), None);
        assert_eq!(Java::List(vec![Java::Str("a".into()), Java::Null]).java_string().unwrap(), "[a, null]");
    }
}
