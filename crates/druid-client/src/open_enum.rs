//! Open enums: string enums that keep values this crate does not know yet.
//!
//! Newer Druids add states and types; an `Other(String)` variant keeps them instead of
//! failing to decode a whole response.

use std::convert::Infallible;

/// Parsing an open enum never fails: unknown values land in `Other`.
pub type ParseOpenEnum = Infallible;

/// Declares a string enum with an `Other(String)` variant, serialised as its Druid spelling.
macro_rules! open_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident => $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value this version of the crate does not know.
            Other(String),
        }

        impl $name {
            /// The value as Druid spells it.
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$variant => $text, )+
                    Self::Other(other) => other,
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::open_enum::ParseOpenEnum;

            fn from_str(value: &str) -> Result<Self, Self::Err> {
                Ok(match value {
                    $( $text => Self::$variant, )+
                    other => Self::Other(other.to_owned()),
                })
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                let Ok(value) = text.parse();
                Ok(value)
            }
        }
    };
}
