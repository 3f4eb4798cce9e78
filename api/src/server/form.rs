//! Multipart forms (uploads and dry-runs): reading parts with errors a client can act on.

use super::error::{ApiError, ApiResult};
use axum::extract::multipart::{Field, Multipart, MultipartError};

fn bad(e: MultipartError) -> ApiError {
    ApiError::bad("bad_multipart", e.body_text())
}

/// The next part, or `None` at the end of the form.
pub async fn next(form: &mut Multipart) -> ApiResult<Option<Field<'_>>> {
    form.next_field().await.map_err(bad)
}

/// A text part, trimmed; `None` when it is empty.
pub async fn text(field: Field<'_>) -> ApiResult<Option<String>> {
    let text = field.text().await.map_err(bad)?;
    Ok(Some(text.trim().to_owned()).filter(|t| !t.is_empty()))
}

/// A file part's bytes, refused past `limit`.
pub async fn bytes(field: Field<'_>, limit: u64) -> ApiResult<axum::body::Bytes> {
    let bytes = field.bytes().await.map_err(bad)?;
    if bytes.len() as u64 > limit {
        return Err(ApiError::TooLarge(limit));
    }
    Ok(bytes)
}

/// A file part written to a temporary file named after it (a checked file name), for readers
/// that open files by path. The file is deleted when dropped.
pub async fn temp_file(
    field: Field<'_>,
    limit: u64,
) -> ApiResult<(String, tempfile::NamedTempFile)> {
    let name = super::uploads::check_file_name(field.file_name().unwrap_or_default())?;
    let bytes = bytes(field, limit).await?;
    let tmp = tempfile::Builder::new()
        .suffix(&format!("-{name}"))
        .tempfile()
        .map_err(ApiError::internal)?;
    std::fs::write(tmp.path(), &bytes).map_err(ApiError::internal)?;
    Ok((name, tmp))
}
