//! A tenant's settings for its loads. Today: what becomes of a row the reference data cannot
//! complete (`unknown_product`, `missing_price`, `missing_fx_rate`), where a spec says nothing.

use super::auth::{Auth, Role};
use super::error::{ApiError, ApiResult};
use super::tenancy::TenantCtx;
use crate::email::branding::EmailSettings;
use axum::Json;
use serde::{Deserialize, Serialize};

/// Reject the row (the default) or keep it with a warning and without what is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Reject,
    Keep,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Self::Reject => "reject",
            Self::Keep => "keep",
        }
    }
}

/// The tenant's default per rule; a rule left out (or null) rejects. A spec's `unmatched`
/// wins over these.
#[derive(Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnmatchedPolicy {
    #[serde(default)]
    pub unknown_product: Option<Action>,
    #[serde(default)]
    pub missing_price: Option<Action>,
    #[serde(default)]
    pub missing_fx_rate: Option<Action>,
}

impl UnmatchedPolicy {
    fn rules(&self) -> [(&'static str, Option<Action>); 3] {
        [
            ("unknown_product", self.unknown_product),
            ("missing_price", self.missing_price),
            ("missing_fx_rate", self.missing_fx_rate),
        ]
    }
}

async fn read(pool: &sqlx::PgPool) -> ApiResult<UnmatchedPolicy> {
    let rows: Vec<(String, String)> = sqlx::query_as("SELECT rule, action FROM unmatched_policy")
        .fetch_all(pool)
        .await?;
    let mut policy = UnmatchedPolicy::default();
    for (rule, action) in rows {
        let action = Some(if action == "keep" {
            Action::Keep
        } else {
            Action::Reject
        });
        match rule.as_str() {
            "unknown_product" => policy.unknown_product = action,
            "missing_price" => policy.missing_price = action,
            _ => policy.missing_fx_rate = action,
        }
    }
    Ok(policy)
}

/// The tenant's default for rows the reference data cannot complete.
#[utoipa::path(get, path = "/api/settings/unmatched", responses((status = 200, body = UnmatchedPolicy)), tag = "settings")]
pub async fn unmatched(tenant: TenantCtx, auth: Auth) -> ApiResult<Json<UnmatchedPolicy>> {
    auth.require(Role::Viewer)?;
    Ok(Json(read(&tenant.pool).await?))
}

/// Replaces the tenant's default (admins). It applies to loads from now on; rows already
/// rejected stay in their batches' error reports.
#[utoipa::path(put, path = "/api/settings/unmatched", request_body = UnmatchedPolicy, responses((status = 200, body = UnmatchedPolicy)), tag = "settings")]
pub async fn set_unmatched(
    tenant: TenantCtx,
    auth: Auth,
    Json(body): Json<UnmatchedPolicy>,
) -> ApiResult<Json<UnmatchedPolicy>> {
    auth.require(Role::Admin)?;
    let mut tx = tenant.pool.begin().await?;
    sqlx::query("DELETE FROM unmatched_policy")
        .execute(&mut *tx)
        .await?;
    for (rule, action) in body.rules() {
        if let Some(action) = action {
            sqlx::query("INSERT INTO unmatched_policy (rule, action) VALUES ($1, $2)")
                .bind(rule)
                .bind(action.as_str())
                .execute(&mut *tx)
                .await?;
        }
    }
    auth.audit(
        &mut *tx,
        "settings.unmatched_policy",
        "unmatched rows",
        serde_json::to_value(&body).map_err(ApiError::internal)?,
    )
    .await?;
    tx.commit().await?;
    Ok(Json(read(&tenant.pool).await?))
}

impl From<crate::email::branding::SettingsError> for ApiError {
    fn from(e: crate::email::branding::SettingsError) -> Self {
        ApiError::bad("invalid_email_settings", e.to_string())
    }
}

/// The tenant's email settings: sender name, reply-to, upload recipients, brand colour and logo.
#[utoipa::path(get, path = "/api/settings/email", responses((status = 200, body = EmailSettings)), tag = "settings")]
pub async fn email(tenant: TenantCtx, auth: Auth) -> ApiResult<Json<EmailSettings>> {
    auth.require(Role::Admin)?;
    Ok(Json(EmailSettings::load(&tenant.pool).await?))
}

#[utoipa::path(put, path = "/api/settings/email", request_body = EmailSettings, responses((status = 200, body = EmailSettings), (status = 400)), tag = "settings")]
pub async fn set_email(
    tenant: TenantCtx,
    auth: Auth,
    Json(body): Json<EmailSettings>,
) -> ApiResult<Json<EmailSettings>> {
    auth.require(Role::Admin)?;
    body.validate()?;
    body.save(&tenant.pool).await?;
    let saved = EmailSettings::load(&tenant.pool).await?;
    auth.audit(
        &tenant.pool,
        "settings.email",
        "email settings",
        serde_json::to_value(&saved).map_err(ApiError::internal)?,
    )
    .await?;
    Ok(Json(saved))
}
