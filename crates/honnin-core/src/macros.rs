//! Boilerplate shared by the validated string newtypes.

/// Implements `as_str`, `AsRef<str>`, `Display`, `FromStr`, `TryFrom<String>`,
/// `TryFrom<&str>` and `From<T> for String` for a newtype `T(String)` that has an
/// associated `fn parse(&str) -> Result<T, CoreError>`.
///
/// `TryFrom<String>` / `From<T> for String` are what
/// `#[serde(try_from = "String", into = "String")]` uses, so deserialising always
/// goes through `parse`.
macro_rules! string_newtype {
    ($t:ident) => {
        impl $t {
            /// The validated value, exactly as it was parsed.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $t {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl ::std::fmt::Display for $t {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl ::std::str::FromStr for $t {
            type Err = $crate::CoreError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $t::parse(s)
            }
        }

        impl TryFrom<String> for $t {
            type Error = $crate::CoreError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                $t::parse(&s)
            }
        }

        impl TryFrom<&str> for $t {
            type Error = $crate::CoreError;
            fn try_from(s: &str) -> Result<Self, Self::Error> {
                $t::parse(s)
            }
        }

        impl From<$t> for String {
            fn from(v: $t) -> String {
                v.0
            }
        }
    };
}

pub(crate) use string_newtype;
