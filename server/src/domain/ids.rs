//! Ids of the things a caller names, each a type of its own: an operation that takes an alert and
//! a policy cannot be handed them the wrong way round, and a user's id is never taken for an
//! alert source's. They are read as `&str` (`Deref`) wherever a query needs the text.

use std::fmt;
use std::ops::Deref;

macro_rules! id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> $name {
                $name(id)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> $name {
                $name(id.to_string())
            }
        }

        impl Deref for $name {
            type Target = str;

            fn deref(&self) -> &str {
                &self.0
            }
        }

        /// Compared with the id column it names, in a query.
        impl From<&$name> for sea_orm::Value {
            fn from(id: &$name) -> sea_orm::Value {
                id.0.as_str().into()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id!(
    /// An alert's id.
    AlertId
);
id!(
    /// A user's id.
    UserId
);
id!(
    /// An alert source's id.
    SourceId
);
id!(
    /// An escalation policy's id.
    PolicyId
);
