//! A tenant's email settings: the sender's display name, a reply-to address, the people told of
//! every upload, and the brand's colour and logo in the emails' frame.

use serde::{Deserialize, Serialize};
use sqlx::PgPool;

/// What an admin sets; every field may be left out.
#[derive(Debug, Clone, Default, Serialize, Deserialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailSettings {
    /// Shown as the sender, e.g. `Bibbi Sales Ops`; the address stays the platform's.
    pub sender_name: Option<String>,
    /// Where replies go, e.g. `sales-ops@bibbi.example`.
    pub reply_to: Option<String>,
    /// Told of every upload that ends, besides its uploader.
    #[serde(default)]
    pub upload_recipients: Vec<String>,
    /// `#RRGGBB`, the emails' header band.
    pub brand_colour: Option<String>,
    /// An `https://` image shown in the header band.
    pub logo_url: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("{field} {value:?} is not an email address")]
    Address { field: &'static str, value: String },
    #[error("brand_colour {0:?}: expected #RRGGBB, e.g. #1d2330")]
    Colour(String),
    #[error("logo_url {0:?}: expected an https:// URL")]
    Logo(String),
    #[error("sender_name: at most 100 characters, without line breaks")]
    SenderName,
    #[error("upload_recipients: at most 50")]
    TooMany,
}

fn address(field: &'static str, value: &str) -> Result<(), SettingsError> {
    match value.parse::<lettre::message::Mailbox>() {
        Ok(_) if value.contains('@') => Ok(()),
        _ => Err(SettingsError::Address {
            field,
            value: value.to_owned(),
        }),
    }
}

impl EmailSettings {
    pub fn validate(&self) -> Result<(), SettingsError> {
        if let Some(n) = &self.sender_name {
            if n.chars().count() > 100 || n.contains(['\r', '\n']) {
                return Err(SettingsError::SenderName);
            }
        }
        if let Some(r) = &self.reply_to {
            address("reply_to", r)?;
        }
        if self.upload_recipients.len() > 50 {
            return Err(SettingsError::TooMany);
        }
        for r in &self.upload_recipients {
            address("upload_recipients", r)?;
        }
        if let Some(c) = &self.brand_colour {
            let hex = c.strip_prefix('#').unwrap_or("");
            if hex.len() != 6 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(SettingsError::Colour(c.clone()));
            }
        }
        if let Some(l) = &self.logo_url {
            if !l.starts_with("https://") || url::Url::parse(l).is_err() {
                return Err(SettingsError::Logo(l.clone()));
            }
        }
        Ok(())
    }

    /// The tenant's settings (all empty when never set).
    pub async fn load(pool: &PgPool) -> sqlx::Result<Self> {
        Ok(sqlx::query_as(
            "SELECT sender_name, reply_to, upload_recipients, brand_colour, logo_url FROM email_settings",
        )
        .fetch_optional(pool)
        .await?
        .unwrap_or_default())
    }

    pub async fn save(&self, pool: &PgPool) -> sqlx::Result<()> {
        let blank = |s: &Option<String>| {
            s.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        sqlx::query(
            "INSERT INTO email_settings (one, sender_name, reply_to, upload_recipients, brand_colour, logo_url)
             VALUES (true, $1, $2, $3, $4, $5)
             ON CONFLICT (one) DO UPDATE SET sender_name = $1, reply_to = $2, upload_recipients = $3,
                 brand_colour = $4, logo_url = $5, updated_at = now()",
        )
        .bind(blank(&self.sender_name))
        .bind(blank(&self.reply_to))
        .bind(&self.upload_recipients)
        .bind(blank(&self.brand_colour))
        .bind(blank(&self.logo_url))
        .execute(pool)
        .await?;
        Ok(())
    }

    /// What the templates' frame shows.
    pub fn brand(&self) -> Brand {
        Brand {
            colour: self
                .brand_colour
                .clone()
                .unwrap_or_else(|| "#1d2330".into()),
            logo_url: self.logo_url.clone(),
        }
    }
}

/// The emails' frame: header colour and logo.
#[derive(Debug, Clone, Serialize)]
pub struct Brand {
    pub colour: String,
    pub logo_url: Option<String>,
}

impl Default for Brand {
    fn default() -> Self {
        EmailSettings::default().brand()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked_field_by_field() {
        let ok = EmailSettings {
            sender_name: Some("Bibbi Sales Ops".into()),
            reply_to: Some("ops@bibbi.example".into()),
            upload_recipients: vec!["Data <data@bibbi.example>".into()],
            brand_colour: Some("#0A7B83".into()),
            logo_url: Some("https://cdn.bibbi.example/logo.png".into()),
        };
        assert!(ok.validate().is_ok());
        let err = |f: fn(&mut EmailSettings)| {
            let mut s = ok.clone();
            f(&mut s);
            s.validate().unwrap_err().to_string()
        };
        assert!(err(|s| s.reply_to = Some("ops".into())).contains("reply_to \"ops\""));
        assert!(err(|s| s.brand_colour = Some("red".into())).contains("#RRGGBB"));
        assert!(err(|s| s.logo_url = Some("http://x.example/l.png".into())).contains("https://"));
        assert!(
            err(|s| s.sender_name = Some("A\r\nBcc: x@y.example".into())).contains("line breaks")
        );
        assert!(err(|s| s.upload_recipients = vec!["nope".into()]).contains("upload_recipients"));
    }
}
