//! The order map entries arrive in. protobuf-java hands Druid a map field as its entries in
//! wire order, and Druid puts them into a `HashMap`: keys that share a bucket print in that
//! order. prost-reflect decodes maps into a hash map, so the order is read here from the bytes.

use std::collections::HashMap;

use prost::bytes::Buf;
use prost_reflect::{Kind, MapKey, MessageDescriptor};

/// Map key order of one message, and of the messages nested in its fields.
#[derive(Debug, Default, Clone)]
pub struct Orders {
    /// Per map field number: keys in order of first appearance.
    pub maps: HashMap<u32, Vec<MapKey>>,
    /// Per message field number: each occurrence's orders (a repeated field has several).
    pub children: HashMap<u32, Vec<Orders>>,
}

impl Orders {
    /// The orders of a record, or `None` when the bytes do not parse (the decoder reports it).
    pub fn read(message: &MessageDescriptor, mut bytes: &[u8]) -> Option<Self> {
        read(message, &mut bytes)
    }

    /// The orders of a singular message field's value (the last occurrence).
    pub fn child(&self, number: u32) -> Option<&Self> {
        self.children.get(&number).and_then(|all| all.last())
    }

    /// The orders of element `index` of a repeated message field.
    pub fn element(&self, number: u32, index: usize) -> Option<&Self> {
        self.children.get(&number).and_then(|all| all.get(index))
    }
}

fn read(message: &MessageDescriptor, buf: &mut &[u8]) -> Option<Orders> {
    let mut orders = Orders::default();
    while buf.has_remaining() {
        let key = prost::encoding::decode_varint(buf).ok()?;
        let number = u32::try_from(key >> 3).ok()?;
        let wire = key & 7;
        let field = message.get_field(number);
        match wire {
            0 => {
                prost::encoding::decode_varint(buf).ok()?;
            }
            1 => skip(buf, 8)?,
            5 => skip(buf, 4)?,
            2 => {
                let len = usize::try_from(prost::encoding::decode_varint(buf).ok()?).ok()?;
                if buf.remaining() < len {
                    return None;
                }
                let mut inner = &buf[..len];
                buf.advance(len);
                let Some(field) = field else { continue };
                let Kind::Message(kind) = field.kind() else { continue };
                if field.is_map() {
                    if let Some(key) = entry_key(&kind, &mut inner) {
                        let keys = orders.maps.entry(number).or_default();
                        if !keys.contains(&key) {
                            keys.push(key);
                        }
                    }
                } else {
                    let child = read(&kind, &mut inner)?;
                    orders.children.entry(number).or_default().push(child);
                }
            }
            // Groups (3, 4) are not used by the schemas druidctl reads.
            _ => return None,
        }
    }
    Some(orders)
}

fn skip(buf: &mut &[u8], len: usize) -> Option<()> {
    (buf.remaining() >= len).then(|| buf.advance(len))
}

/// The key of one map entry (field 1); an entry without a key has the default key.
fn entry_key(entry: &MessageDescriptor, buf: &mut &[u8]) -> Option<MapKey> {
    let key_field = entry.map_entry_key_field();
    let mut key = MapKey::default_value(&key_field.kind());
    while buf.has_remaining() {
        let tag = prost::encoding::decode_varint(buf).ok()?;
        let (number, wire) = (tag >> 3, tag & 7);
        match wire {
            0 => {
                let value = prost::encoding::decode_varint(buf).ok()?;
                if number == 1 {
                    key = varint_key(&key_field.kind(), value);
                }
            }
            1 => {
                let value = buf.get(..8)?.to_vec();
                skip(buf, 8)?;
                if number == 1 {
                    let raw = u64::from_le_bytes(value.try_into().ok()?);
                    key = match key_field.kind() {
                        Kind::Sfixed64 => MapKey::I64(i64::from_le_bytes(raw.to_le_bytes())),
                        _ => MapKey::U64(raw),
                    };
                }
            }
            5 => {
                let value = buf.get(..4)?.to_vec();
                skip(buf, 4)?;
                if number == 1 {
                    let raw = u32::from_le_bytes(value.try_into().ok()?);
                    key = match key_field.kind() {
                        Kind::Sfixed32 => MapKey::I32(i32::from_le_bytes(raw.to_le_bytes())),
                        _ => MapKey::U32(raw),
                    };
                }
            }
            2 => {
                let len = usize::try_from(prost::encoding::decode_varint(buf).ok()?).ok()?;
                let bytes = buf.get(..len)?.to_vec();
                skip(buf, len)?;
                if number == 1 {
                    key = MapKey::String(String::from_utf8(bytes).ok()?);
                }
            }
            _ => return None,
        }
    }
    Some(key)
}

#[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)]
fn varint_key(kind: &Kind, value: u64) -> MapKey {
    match kind {
        Kind::Bool => MapKey::Bool(value != 0),
        Kind::Int32 => MapKey::I32(value as i32),
        Kind::Sint32 => MapKey::I32(((value >> 1) as i32) ^ -((value & 1) as i32)),
        Kind::Uint32 => MapKey::U32(value as u32),
        Kind::Sint64 => MapKey::I64(((value >> 1) as i64) ^ -((value & 1) as i64)),
        Kind::Uint64 => MapKey::U64(value),
        _ => MapKey::I64(value as i64),
    }
}
