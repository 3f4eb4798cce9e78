//! Page numbers from query strings, checked at the edge: a page far past the end is a 400 that
//! names the allowed range, never an overflow.

use super::error::ApiError;

/// The highest page number accepted; with 1,000 rows a page that is a billion rows in.
pub const MAX_PAGE: u64 = 1_000_000;

/// A checked page request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    pub page: u32,
    pub per_page: u32,
}

impl Paging {
    /// `page` from 1 to [`MAX_PAGE`] (default 1), `per_page` from 1 to `max` (default
    /// `default`).
    pub fn new(
        page: Option<u64>,
        per_page: Option<u64>,
        default: u32,
        max: u32,
    ) -> Result<Self, ApiError> {
        let page = page.unwrap_or(1);
        if !(1..=MAX_PAGE).contains(&page) {
            return Err(ApiError::bad(
                "invalid_page",
                format!("page {page} is out of range: from 1 to {MAX_PAGE}"),
            ));
        }
        let per_page = per_page.unwrap_or(default as u64);
        if !(1..=max as u64).contains(&per_page) {
            return Err(ApiError::bad(
                "invalid_page",
                format!("per_page {per_page} is out of range: from 1 to {max}"),
            ));
        }
        Ok(Self {
            page: page as u32,
            per_page: per_page as u32,
        })
    }

    /// Rows before this page.
    pub fn offset(self) -> u64 {
        (self.page as u64 - 1) * self.per_page as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_past_the_limits_are_refused_not_overflowed() {
        let p = Paging::new(Some(MAX_PAGE), Some(500), 50, 500).unwrap();
        assert_eq!(p.offset(), (MAX_PAGE - 1) * 500);
        assert!(Paging::new(Some(4_294_967_295), Some(500), 50, 500).is_err());
        assert!(Paging::new(Some(u64::MAX), None, 50, 500).is_err());
        assert!(Paging::new(Some(0), None, 50, 500).is_err());
        assert!(Paging::new(None, Some(501), 50, 500).is_err());
        assert_eq!(
            Paging::new(None, None, 50, 500).unwrap(),
            Paging {
                page: 1,
                per_page: 50
            }
        );
    }
}
