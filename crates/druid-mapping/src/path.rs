//! The one parser of field paths: a dimension's `from` (or its name) and the timestamp's
//! `from` are dotted paths of JSON names, `fee.amountMinor`, with an optional leading `$.`.
//! Validation, the compatibility rules and the flattenSpec all read them through
//! [`FieldPath`].

use std::fmt;

/// A dotted path of JSON names; the segment after a map field is a map key (any text).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FieldPath {
    segments: Vec<String>,
}

impl FieldPath {
    /// Parses `fee.amountMinor` or `$.fee.amountMinor`. Never fails: a segment that names
    /// no field is reported by whoever resolves the path against a message.
    pub fn parse(text: &str) -> Self {
        let dotted = text.strip_prefix("$.").unwrap_or(text);
        Self { segments: dotted.split('.').map(str::to_owned).collect() }
    }

    /// The segments, in order.
    pub fn segments(&self) -> &[String] {
        &self.segments
    }

    /// The JSONPath Druid's flattenSpec takes: `$.fee.amountMinor`; segments that are not
    /// plain identifiers (map keys such as `order-id`) use bracket notation:
    /// `$.metadata['order-id']`.
    pub fn json_path(&self) -> String {
        let mut path = String::from("$");
        for segment in &self.segments {
            let plain = segment.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && segment.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if plain {
                path.push('.');
                path.push_str(segment);
            } else {
                path.push_str("['");
                path.push_str(&segment.replace('\\', "\\\\").replace('\'', "\\'"));
                path.push_str("']");
            }
        }
        path
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.segments.join("."))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_paths() {
        assert_eq!(FieldPath::parse("fee.amountMinor").json_path(), "$.fee.amountMinor");
        assert_eq!(FieldPath::parse("$.fee.amountMinor").json_path(), "$.fee.amountMinor");
        assert_eq!(FieldPath::parse("metadata.order-id").json_path(), "$.metadata['order-id']");
        assert_eq!(FieldPath::parse("metadata.it's").json_path(), "$.metadata['it\\'s']");
    }

    #[test]
    fn segments_and_display() {
        let path = FieldPath::parse("$.card.brand");
        assert_eq!(path.segments(), ["card", "brand"]);
        assert_eq!(path.to_string(), "card.brand");
    }
}
