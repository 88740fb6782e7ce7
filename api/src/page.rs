//! Cursor pages: every list route reads `limit` and `cursor` the same way and answers with
//! `next_cursor`, so no list answers with an unbounded number of rows.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::extract::Query;

/// What a cursor of a list looks like: the key of the last item of the previous page.
#[derive(Debug, Clone, Copy)]
pub(crate) enum CursorShape {
    /// A bare id: 32 hex digits (runs).
    Hex32,
    /// A prefixed id: `<prefix>_` and 32 lower-case hex digits (audit entries, keys).
    Prefixed(&'static str),
    /// A name as agents have them.
    Name,
    /// A key of any text, hex-encoded (lower case, at most 256 bytes of key).
    Opaque,
}

impl CursorShape {
    fn accepts(self, cursor: &str) -> bool {
        let hex32 = |text: &str| {
            text.len() == 32
                && text
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        };
        match self {
            CursorShape::Hex32 => {
                cursor.len() == 32 && cursor.bytes().all(|b| b.is_ascii_hexdigit())
            }
            CursorShape::Prefixed(prefix) => cursor
                .strip_prefix(prefix)
                .and_then(|rest| rest.strip_prefix('_'))
                .is_some_and(hex32),
            CursorShape::Name => crate::valid_name(cursor),
            CursorShape::Opaque => {
                (2..=512).contains(&cursor.len())
                    && cursor.len().is_multiple_of(2)
                    && cursor
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            }
        }
    }
}

/// The size and bounds of one list's pages.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PageRules {
    pub(crate) default: i64,
    pub(crate) max: i64,
    pub(crate) cursor: CursorShape,
}

/// A parsed page request.
#[derive(Debug, Clone)]
pub(crate) struct Page {
    pub(crate) limit: i64,
    pub(crate) cursor: Option<String>,
}

impl Page {
    /// Reads `limit` (1 to the list's maximum; its default when absent) and `cursor` (only
    /// what this list hands out), naming the parameter at fault.
    pub(crate) fn parse(
        limit: Option<&str>,
        cursor: Option<&str>,
        rules: PageRules,
    ) -> Result<Self, ApiError> {
        let limit = match limit {
            None => rules.default,
            Some(text) => text
                .parse::<i64>()
                .ok()
                .filter(|n| (1..=rules.max).contains(n))
                .ok_or_else(|| {
                    ApiError::invalid("limit", format!("an integer from 1 to {}", rules.max))
                })?,
        };
        if let Some(cursor) = cursor
            && !rules.cursor.accepts(cursor)
        {
            return Err(ApiError::invalid(
                "cursor",
                "not a cursor this API returned",
            ));
        }
        Ok(Self {
            limit,
            cursor: cursor.map(str::to_string),
        })
    }

    /// The cursor of the next page: the last item's key when this page is full.
    pub(crate) fn next_cursor<T>(&self, items: &[T], key: impl Fn(&T) -> String) -> Option<String> {
        if items.len() as i64 == self.limit {
            items.last().map(key)
        } else {
            None
        }
    }
}

/// A list route's query parameters: its `limit` and `cursor` and the rules they follow.
pub(crate) trait Listing: DeserializeOwned {
    const RULES: PageRules;
    /// `limit` and `cursor` as the client sent them.
    fn page_params(&self) -> (Option<&str>, Option<&str>);
}

/// Implements [`Listing`] for a query type with `limit` and `cursor` fields.
macro_rules! listing {
    ($query:ty, default $default:expr, max $max:expr, $cursor:expr) => {
        impl $crate::page::Listing for $query {
            const RULES: $crate::page::PageRules = $crate::page::PageRules {
                default: $default,
                max: $max,
                cursor: $cursor,
            };
            fn page_params(&self) -> (Option<&str>, Option<&str>) {
                (self.limit.as_deref(), self.cursor.as_deref())
            }
        }
    };
}
pub(crate) use listing;

/// The extractor of every list route: its query, and the page it asks for, checked.
pub(crate) struct Paged<Q> {
    pub(crate) query: Q,
    pub(crate) page: Page,
}

impl<S, Q> FromRequestParts<S> for Paged<Q>
where
    S: Send + Sync,
    Q: Listing,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Query(query) = Query::<Q>::from_request_parts(parts, state).await?;
        let (limit, cursor) = query.page_params();
        let page = Page::parse(limit, cursor, Q::RULES)?;
        Ok(Self { query, page })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: PageRules = PageRules {
        default: 20,
        max: 100,
        cursor: CursorShape::Prefixed("key"),
    };

    #[test]
    fn limits_and_cursors_are_checked_and_named() {
        let page = Page::parse(None, None, RULES).unwrap();
        assert_eq!((page.limit, page.cursor), (20, None));
        let cursor = format!("key_{}", "a".repeat(32));
        let page = Page::parse(Some("100"), Some(&cursor), RULES).unwrap();
        assert_eq!(page.limit, 100);
        for (limit, cursor, needle) in [
            (Some("0"), None, "limit"),
            (Some("101"), None, "limit"),
            (Some("x"), None, "limit"),
            (None, Some("key_zz"), "cursor"),
            (None, Some("aud_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), "cursor"),
        ] {
            let err = Page::parse(limit, cursor, RULES).unwrap_err().to_string();
            assert!(err.starts_with(needle), "{limit:?} {cursor:?}: {err}");
        }
        assert!(CursorShape::Name.accepts("helper-2"));
        assert!(!CursorShape::Name.accepts("Helper"));
        assert!(CursorShape::Hex32.accepts(&"F".repeat(32)));
    }

    #[test]
    fn the_next_cursor_is_the_last_key_of_a_full_page() {
        let page = Page::parse(Some("2"), None, RULES).unwrap();
        assert_eq!(
            page.next_cursor(&[1, 2], |n| n.to_string()),
            Some("2".into())
        );
        assert_eq!(page.next_cursor(&[1], |n| n.to_string()), None);
    }
}
