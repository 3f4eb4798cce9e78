//! What an account's email and password must be, checked where accounts and invites are made.

use super::error::{ApiError, ApiResult};

const MIN_PASSWORD: usize = 10;

/// Passwords that are refused however long they are: the most common ones of ten characters
/// or more in public breach lists.
const COMMON_PASSWORDS: [&str; 16] = [
    "1234567890",
    "12345678910",
    "123456789a",
    "0123456789",
    "1q2w3e4r5t",
    "qwertyuiop",
    "1qaz2wsx3edc",
    "password12",
    "password123",
    "password1234",
    "passw0rd123",
    "iloveyou123",
    "abcdefghij",
    "qwerty12345",
    "aaaaaaaaaa",
    "letmein1234",
];

/// An email address in a plain form (`local@domain.tld`), lower-cased; a clear 400 otherwise.
pub fn check_email(raw: &str) -> ApiResult<String> {
    let email = raw.trim().to_lowercase();
    let valid = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            let local_ok = (1..=64).contains(&local.len())
                && !local.starts_with('.')
                && !local.ends_with('.')
                && !local.contains("..")
                && local
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
            let labels: Vec<&str> = domain.split('.').collect();
            let domain_ok = labels.len() >= 2
                && labels.iter().all(|l| {
                    (1..=63).contains(&l.len())
                        && !l.starts_with('-')
                        && !l.ends_with('-')
                        && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                });
            local_ok && domain_ok
        });
    if !valid {
        return Err(ApiError::bad(
            "invalid_email",
            format!("{raw:?} is not an email address (expected name@domain.tld)"),
        ));
    }
    Ok(email)
}

/// A password of at least MIN_PASSWORD characters besides surrounding spaces, not one of the
/// most common ones.
pub fn check_password(password: &str) -> ApiResult<()> {
    let trimmed = password.trim();
    if trimmed.chars().count() < MIN_PASSWORD {
        return Err(ApiError::bad(
            "weak_password",
            format!("a password needs at least {MIN_PASSWORD} characters besides spaces"),
        ));
    }
    let lower = trimmed.to_lowercase();
    let one_char = trimmed.chars().all(|c| trimmed.starts_with(c));
    if one_char || COMMON_PASSWORDS.contains(&lower.as_str()) {
        return Err(ApiError::bad(
            "weak_password",
            "this password is among the most common ones; choose another",
        ));
    }
    Ok(())
}
