//! `pragma solidity` ranges (npm-style semver: `^0.8.0`, `>=0.4.22 <0.9.0`, `0.5.17`,
//! `0.6.0 - 0.6.12`, `a || b`) and the choice of a release that satisfies all of them.

use crate::sources::is_ident;
use semver::{Version, VersionReq};

/// One `pragma solidity …;` of one source unit.
#[derive(Clone, Debug)]
pub struct Pragma {
    pub file: String,
    pub line: u32,
    /// As written, e.g. `^0.8.20`.
    pub text: String,
    /// Alternatives (`||`), each a conjunction of comparators.
    alternatives: Vec<VersionReq>,
}

impl Pragma {
    pub fn matches(&self, version: &Version) -> bool {
        self.alternatives.iter().any(|req| req.matches(version))
    }
}

/// Every `pragma solidity` of `content`, comments skipped. A range that cannot be read is an
/// error naming the file and line.
pub fn pragmas(file: &str, content: &str) -> Result<Vec<Pragma>, String> {
    let code = crate::sources::strip_comments(content);
    let mut found = Vec::new();
    let mut rest = code.as_str();
    let mut offset = 0;
    while let Some(at) = rest.find("pragma") {
        let start = offset + at;
        let after = &code[start + "pragma".len()..];
        let before_ok = start == 0 || !is_ident(code.as_bytes()[start - 1]);
        offset = start + "pragma".len();
        rest = &code[offset..];
        let trimmed = after.trim_start();
        if !before_ok || !after.starts_with(char::is_whitespace) || !trimmed.starts_with("solidity")
        {
            continue;
        }
        let range_start = &trimmed["solidity".len()..];
        if range_start.starts_with(|c: char| is_ident(c as u8)) {
            continue;
        }
        let Some(end) = range_start.find(';') else {
            return Err(format!("{file}: `pragma solidity` is not closed by `;`"));
        };
        let text = range_start[..end].trim().to_owned();
        let line = crate::sources::line_of(content, start);
        let alternatives = parse_range(&text)
            .map_err(|e| format!("{file}:{line}: cannot read `pragma solidity {text}`: {e}"))?;
        found.push(Pragma {
            file: file.to_owned(),
            line,
            text,
            alternatives,
        });
    }
    Ok(found)
}

/// An npm-style range as the `semver` crate's requirements: comparators separated by spaces
/// (not commas), a bare version meaning exactly that version (not `^`), hyphen ranges.
pub(crate) fn parse_range(text: &str) -> Result<Vec<VersionReq>, String> {
    let mut alternatives = Vec::new();
    for alternative in text.split("||") {
        let tokens: Vec<&str> = alternative.split_whitespace().collect();
        if tokens.is_empty() {
            return Err("an empty alternative".into());
        }
        let mut comparators = Vec::new();
        let mut i = 0;
        while i < tokens.len() {
            let token = tokens[i];
            if tokens.get(i + 1) == Some(&"-") {
                let upper = tokens
                    .get(i + 2)
                    .ok_or("a hyphen range without its upper end")?;
                comparators.push(format!(">={token}"));
                comparators.push(format!("<={upper}"));
                i += 3;
                continue;
            }
            // `>= 0.4.22`: an operator written apart from its version.
            let (op, version) = if matches!(token, ">" | ">=" | "<" | "<=" | "=" | "^" | "~") {
                i += 1;
                (
                    token,
                    *tokens.get(i).ok_or("an operator without a version")?,
                )
            } else {
                let split = token
                    .find(|c: char| c.is_ascii_digit() || c == '*' || c == 'x' || c == 'X')
                    .unwrap_or(token.len());
                token.split_at(split)
            };
            let op = if op.is_empty() { "=" } else { op };
            if !matches!(op, ">" | ">=" | "<" | "<=" | "=" | "^" | "~") {
                return Err(format!("unknown operator `{op}`"));
            }
            comparators.push(format!("{op}{version}"));
            i += 1;
        }
        let requirement = VersionReq::parse(&comparators.join(", ")).map_err(|e| e.to_string())?;
        alternatives.push(requirement);
    }
    Ok(alternatives)
}

/// The highest of `releases` that every pragma allows.
pub fn select<'a>(
    releases: impl IntoIterator<Item = &'a Version>,
    pragmas: &[Pragma],
) -> Option<Version> {
    releases
        .into_iter()
        .filter(|v| pragmas.iter().all(|p| p.matches(v)))
        .max()
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    fn allows(range: &str, version: &str) -> bool {
        let p = pragmas("a.sol", &format!("pragma solidity {range};")).unwrap();
        p[0].matches(&v(version))
    }

    #[test]
    fn npm_ranges_mean_what_solidity_means() {
        assert!(allows("^0.8.0", "0.8.37"));
        assert!(!allows("^0.8.0", "0.9.0"));
        assert!(!allows("^0.8.20", "0.8.19"));
        assert!(allows("0.5.17", "0.5.17"));
        assert!(
            !allows("0.5.17", "0.5.18"),
            "a bare version is exact, not a caret"
        );
        assert!(allows(">=0.4.22 <0.9.0", "0.6.12"));
        assert!(allows(">= 0.4.22 < 0.6.0", "0.5.1"));
        assert!(!allows(">=0.4.22 <0.6.0", "0.6.0"));
        assert!(allows("~0.6.2", "0.6.12"));
        assert!(allows("0.6.0 - 0.6.5", "0.6.5"));
        assert!(!allows("0.6.0 - 0.6.5", "0.6.6"));
        assert!(allows("^0.4.24 || ^0.5.0", "0.5.3"));
        assert!(allows("=0.7.6", "0.7.6"));
    }

    #[test]
    fn pragmas_in_comments_and_other_pragmas_are_ignored() {
        let source = "// pragma solidity ^0.4.0;\n/* pragma solidity 0.5.0; */\npragma abicoder v2;\npragma solidity ^0.8.4;\n";
        let found = pragmas("x.sol", source).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].text, "^0.8.4");
        assert_eq!(found[0].line, 4);
        let err = pragmas("x.sol", "\npragma solidity ^zero;").unwrap_err();
        assert!(err.starts_with("x.sol:2:"), "{err}");
    }

    #[test]
    fn the_highest_release_every_pragma_allows_is_chosen() {
        let releases = [
            v("0.4.26"),
            v("0.5.17"),
            v("0.6.12"),
            v("0.8.19"),
            v("0.8.37"),
        ];
        let a = pragmas("a.sol", "pragma solidity >=0.5.0 <0.8.20;").unwrap();
        let b = pragmas("b.sol", "pragma solidity ^0.6.0 || ^0.8.0;").unwrap();
        let all: Vec<_> = a.into_iter().chain(b).collect();
        assert_eq!(select(&releases, &all), Some(v("0.8.19")));
        let c = pragmas("c.sol", "pragma solidity ^0.7.0;").unwrap();
        assert_eq!(select(&releases, &c), None);
    }
}
