//! A tenant's id: checked once where it enters (CLI, token, host name, registry), then trusted
//! wherever it names a database or a lake prefix.

use serde::{Deserialize, Serialize};
use std::{fmt, ops::Deref, str::FromStr};

/// The id of the demo tenant.
pub const DEMO_TENANT: &str = "demo";

/// Lower-case letters, digits and `_`, starting with a letter, 2-41 characters: it becomes part
/// of a database name and of every lake path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TenantId(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid tenant id {0:?}: lower-case letters, digits and `_`, starting with a letter, 2-41 characters")]
pub struct InvalidTenantId(pub String);

impl TenantId {
    pub fn parse(id: &str) -> Result<Self, InvalidTenantId> {
        let mut chars = id.chars();
        let ok = chars.next().is_some_and(|c| c.is_ascii_lowercase())
            && (2..=41).contains(&id.len())
            && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if ok {
            Ok(Self(id.to_owned()))
        } else {
            Err(InvalidTenantId(id.to_owned()))
        }
    }

    /// The tenant that always exists, in the registry's own database.
    pub fn demo() -> Self {
        Self(DEMO_TENANT.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The tenant's folder in the lake and under every object-store prefix.
    pub fn lake_prefix(&self) -> String {
        format!("tenant={}", self.0)
    }
}

impl Deref for TenantId {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for TenantId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for TenantId {
    type Err = InvalidTenantId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for TenantId {
    type Error = InvalidTenantId;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<TenantId> for String {
    fn from(t: TenantId) -> String {
        t.0
    }
}

impl PartialEq<str> for TenantId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for TenantId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

// Read and bound as text; a stored id that is not valid fails to decode instead of reaching a path.
impl sqlx::Type<sqlx::Postgres> for TenantId {
    fn type_info() -> sqlx::postgres::PgTypeInfo {
        <String as sqlx::Type<sqlx::Postgres>>::type_info()
    }
    fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
        <String as sqlx::Type<sqlx::Postgres>>::compatible(ty)
    }
}

impl<'r> sqlx::Decode<'r, sqlx::Postgres> for TenantId {
    fn decode(value: sqlx::postgres::PgValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        Ok(Self::parse(
            <&str as sqlx::Decode<sqlx::Postgres>>::decode(value)?,
        )?)
    }
}

impl sqlx::Encode<'_, sqlx::Postgres> for TenantId {
    fn encode_by_ref(
        &self,
        buf: &mut sqlx::postgres::PgArgumentBuffer,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        <&str as sqlx::Encode<sqlx::Postgres>>::encode(self.0.as_str(), buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_database_safe_ids_only() {
        for ok in ["demo", "acme_2", "ab"] {
            assert_eq!(TenantId::parse(ok).unwrap().as_str(), ok);
        }
        let long = "a".repeat(42);
        for bad in [
            "",
            "a",
            "Demo",
            "1acme",
            "acme-co",
            "a/b",
            "tenant=x",
            "ac me",
            long.as_str(),
        ] {
            assert_eq!(TenantId::parse(bad), Err(InvalidTenantId(bad.to_owned())));
        }
        assert!(serde_json::from_str::<TenantId>("\"../x\"").is_err());
        assert_eq!(
            TenantId::parse("demo").unwrap().lake_prefix(),
            "tenant=demo"
        );
    }
}
