//! Records for a topic, built from the compiled descriptor with prost-reflect, so a schema
//! change needs no code change: every field gets a plausible value from its kind. A share of
//! the records can be made undecodable on purpose: garbage bytes, or a valid message behind
//! Confluent's 5-byte prefix (magic byte + schema id), which Druid's `inline` and `file`
//! decoders cannot read (apache/druid#17620).

use prost::Message as _;
use prost_reflect::{DynamicMessage, FieldDescriptor, Kind, MapKey, MessageDescriptor, Value};

/// What a record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum Shape {
    /// A valid message.
    Valid,
    /// Random bytes.
    Garbage,
    /// A valid message behind Confluent's wire-format prefix.
    ConfluentPrefixed,
}

/// Generates records deterministically from a seed.
#[derive(Debug, Clone)]
pub struct Generator {
    message: MessageDescriptor,
    state: u64,
    /// Unix seconds used for Timestamp fields.
    pub now: i64,
}

impl Generator {
    /// A generator for `message`.
    pub fn new(message: MessageDescriptor, seed: u64, now: i64) -> Self {
        Self { message, state: seed | 1, now }
    }

    fn next(&mut self) -> u64 {
        // xorshift64*: deterministic, no dependency.
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// The shape of record `index` when `garbage` and `confluent` are the shares (0..=1) of
    /// undecodable records: spread evenly, so any window has about the right share.
    pub fn shape(index: u64, garbage: f64, confluent: f64) -> Shape {
        let count = |share: f64, upto: u64| (upto as f64 * share).floor() as u64;
        if count(garbage, index + 1) > count(garbage, index) {
            return Shape::Garbage;
        }
        // Confluent records are spread over the records that are not garbage.
        let position = index - count(garbage, index + 1);
        let share = if garbage < 1.0 { confluent / (1.0 - garbage) } else { 0.0 };
        if count(share, position + 1) > count(share, position) {
            Shape::ConfluentPrefixed
        } else {
            Shape::Valid
        }
    }

    /// One record of `shape`, encoded.
    pub fn record(&mut self, shape: Shape) -> Vec<u8> {
        match shape {
            Shape::Valid => self.message().encode_to_vec(),
            Shape::Garbage => {
                // A zero tag is invalid protobuf: the record can never decode.
                let mut bytes = vec![0_u8; 4];
                bytes.extend((0..20).map(|_| self.next() as u8));
                bytes
            }
            Shape::ConfluentPrefixed => {
                let mut bytes = vec![0_u8, 0, 0, 0, 1];
                bytes.extend(self.message().encode_to_vec());
                bytes
            }
        }
    }

    /// A message with every field set (one member of each oneof).
    pub fn message(&mut self) -> DynamicMessage {
        let descriptor = self.message.clone();
        self.fill(&descriptor, 0)
    }

    fn fill(&mut self, descriptor: &MessageDescriptor, depth: usize) -> DynamicMessage {
        let mut message = DynamicMessage::new(descriptor.clone());
        if descriptor.full_name() == "google.protobuf.Timestamp" {
            let jitter = (self.next() % 3600) as i64;
            message.set_field_by_name("seconds", Value::I64(self.now - jitter));
            message.set_field_by_name("nanos", Value::I32((self.next() % 1_000_000_000) as i32));
            return message;
        }
        // One member of each oneof, changing from record to record.
        let chosen: Vec<u32> = descriptor
            .oneofs()
            .filter(|oneof| !oneof.is_synthetic())
            .filter_map(|oneof| {
                let members: Vec<u32> = oneof.fields().map(|field| field.number()).collect();
                let pick = (self.next() as usize) % members.len().max(1);
                members.get(pick).copied()
            })
            .collect();
        for field in descriptor.fields() {
            let in_oneof = field.containing_oneof().is_some_and(|oneof| !oneof.is_synthetic());
            if in_oneof && !chosen.contains(&field.number()) {
                continue;
            }
            if let Some(value) = self.value_for(&field, depth) {
                message.set_field(&field, value);
            }
        }
        message
    }

    fn value_for(&mut self, field: &FieldDescriptor, depth: usize) -> Option<Value> {
        if field.is_map() {
            let Kind::Message(entry) = field.kind() else { return None };
            let value = self.scalar(&entry.map_entry_value_field(), depth)?;
            let key = MapKey::String(format!("key{}", self.next() % 10));
            return Some(Value::Map([(key, value)].into_iter().collect()));
        }
        let one = self.scalar(field, depth)?;
        Some(if field.is_list() { Value::List(vec![one]) } else { one })
    }

    fn scalar(&mut self, field: &FieldDescriptor, depth: usize) -> Option<Value> {
        let n = self.next();
        Some(match field.kind() {
            Kind::Double => Value::F64((n % 100_000) as f64 / 100.0),
            Kind::Float => Value::F32((n % 10_000) as f32 / 100.0),
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Value::I64((n % 1_000_000) as i64 + 1),
            Kind::Uint64 | Kind::Fixed64 => Value::U64(n % 1_000_000 + 1),
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Value::I32((n % 100_000) as i32 + 1),
            Kind::Uint32 | Kind::Fixed32 => Value::U32((n % 100_000) as u32 + 1),
            Kind::Bool => Value::Bool(true),
            Kind::String => Value::String(format!("{}-{}", field.name(), n % 100_000)),
            Kind::Bytes => Value::Bytes(n.to_le_bytes().to_vec().into()),
            Kind::Enum(enumeration) => {
                // Never the zero value: proto3 would leave it out.
                let values: Vec<i32> =
                    enumeration.values().map(|value| value.number()).filter(|number| *number != 0).collect();
                Value::EnumNumber(*values.get((n as usize) % values.len().max(1)).unwrap_or(&0))
            }
            Kind::Message(inner) if depth < 3 => Value::Message(self.fill(&inner, depth + 1)),
            Kind::Message(_) => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> MessageDescriptor {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/proto");
        let schema = proto_schema::CompiledSchema::compile_dir(&root).unwrap();
        schema.message("settlement.v1.SettlementTransaction").unwrap()
    }

    #[test]
    fn valid_records_decode_with_every_dimension_field_set() {
        let message = sample();
        let mut generator = Generator::new(message.clone(), 7, 1_796_000_000);
        for _ in 0..20 {
            let bytes = generator.record(Shape::Valid);
            let decoded = DynamicMessage::decode(message.clone(), bytes.as_slice()).unwrap();
            for field in [
                "transaction_id",
                "merchant_id",
                "amount_minor",
                "currency",
                "status",
                "created_at",
                "fee",
                "country",
                "channel",
                "metadata",
            ] {
                assert!(decoded.has_field_by_name(field), "{field} is set");
            }
            assert!(
                decoded.has_field_by_name("card") ^ decoded.has_field_by_name("bank_transfer"),
                "one payment method"
            );
        }
    }

    #[test]
    fn undecodable_records_do_not_decode_and_shares_are_exact() {
        let message = sample();
        let mut generator = Generator::new(message.clone(), 7, 1_796_000_000);
        let shapes: Vec<Shape> = (0..1000).map(|index| Generator::shape(index, 0.05, 0.02)).collect();
        assert_eq!(shapes.iter().filter(|shape| **shape == Shape::Garbage).count(), 50);
        assert_eq!(shapes.iter().filter(|shape| **shape == Shape::ConfluentPrefixed).count(), 20);
        let garbage = generator.record(Shape::Garbage);
        assert!(DynamicMessage::decode(message.clone(), garbage.as_slice()).is_err());
        let prefixed = generator.record(Shape::ConfluentPrefixed);
        assert_eq!(&prefixed[..5], &[0, 0, 0, 0, 1]);
        assert!(DynamicMessage::decode(message.clone(), &prefixed[5..]).is_ok());
    }

    #[test]
    fn the_same_seed_gives_the_same_records() {
        let message = sample();
        let a: Vec<Vec<u8>> = {
            let mut g = Generator::new(message.clone(), 42, 1);
            (0..5).map(|_| g.record(Shape::Valid)).collect()
        };
        let b: Vec<Vec<u8>> = {
            let mut g = Generator::new(message, 42, 1);
            (0..5).map(|_| g.record(Shape::Valid)).collect()
        };
        assert_eq!(a, b);
    }
}
