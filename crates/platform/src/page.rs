//! Listing in pages: every list is ordered by a unique key (a name, or a time-ordered id) and
//! continues after the last key of the previous page, so pages neither skip nor repeat rows
//! while others write.

use serde::{Deserialize, Serialize};

/// Most rows one page holds, and how many when the caller does not say.
pub const MAX_LIMIT: u32 = 500;
pub const DEFAULT_LIMIT: u32 = 50;

/// `?q=&limit=&after=` of every list.
#[derive(Clone, Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only rows whose name contains this text.
    pub q: Option<String>,
    /// Rows per page, 1 to 500 (default 50).
    pub limit: Option<u32>,
    /// Continue after this key: the `next` of the previous page.
    pub after: Option<String>,
}

/// One page of a list; `next` is set when more rows follow.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `after` to read the next page.
    pub next: Option<String>,
}

impl ListQuery {
    /// The page size asked for, or an explanation of the valid range.
    pub fn limit(&self) -> Result<u32, String> {
        match self.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            Some(n) => Err(format!("limit {n} is out of range: use 1 to {MAX_LIMIT}")),
        }
    }

    /// A `LIKE` pattern (with `\` as escape) matching names that contain `q`.
    pub fn like(&self) -> String {
        let mut pattern = String::from("%");
        for c in self.q.as_deref().unwrap_or_default().chars() {
            if matches!(c, '%' | '_' | '\\') {
                pattern.push('\\');
            }
            pattern.push(c);
        }
        pattern.push('%');
        pattern
    }

    /// The key to continue after ("" starts at the beginning).
    pub fn after(&self) -> &str {
        self.after.as_deref().unwrap_or_default()
    }
}

impl<T> Page<T> {
    /// A page from up to `limit + 1` rows: the extra row only says that more follow.
    pub fn from_rows(mut rows: Vec<T>, limit: u32, key: impl Fn(&T) -> String) -> Self {
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let next = if more { rows.last().map(key) } else { None };
        Page { items: rows, next }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_escape_wildcards() {
        let q = ListQuery {
            q: Some("50%_a\\".into()),
            ..Default::default()
        };
        assert_eq!(q.like(), "%50\\%\\_a\\\\%");
        assert_eq!(ListQuery::default().like(), "%%");
    }

    #[test]
    fn pages_know_whether_more_follow() {
        let page = Page::from_rows(vec![1, 2, 3], 2, |n| n.to_string());
        assert_eq!((page.items, page.next), (vec![1, 2], Some("2".into())));
        let page = Page::from_rows(vec![1, 2], 2, |n| n.to_string());
        assert_eq!(page.next, None);
        assert!(
            ListQuery {
                limit: Some(0),
                ..Default::default()
            }
            .limit()
            .is_err()
        );
    }
}
