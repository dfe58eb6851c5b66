//! Source units: their names, the imports they make and where those lead, and positions
//! (byte offset → line and column) for diagnostics.

/// `content` with its comments blanked out (newlines kept), so byte offsets and lines stay
/// those of the original. String literals are kept: an import path is one.
pub fn strip_comments(content: &str) -> String {
    let bytes = content.as_bytes();
    let mut out = bytes.to_vec();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            quote @ (b'"' | b'\'') => {
                i += 1;
                while i < bytes.len() && bytes[i] != quote && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    out[i] = b' ';
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let end = content[i + 2..]
                    .find("*/")
                    .map_or(bytes.len(), |e| i + 2 + e + 2);
                for b in &mut out[i..end] {
                    if *b != b'\n' {
                        *b = b' ';
                    }
                }
                i = end;
            }
            _ => i += 1,
        }
    }
    // Every byte of a comment (all bytes of its multi-byte characters too) became a space and
    // everything else is untouched, so the result is UTF-8; the fallback cannot be taken.
    String::from_utf8(out).unwrap_or_else(|_| content.to_owned())
}

/// The 1-based line of a byte offset.
pub fn line_of(content: &str, offset: usize) -> u32 {
    position(content, offset).0
}

/// The 1-based line and column (in characters) of a byte offset; offsets past the end are
/// clamped to it.
pub fn position(content: &str, offset: usize) -> (u32, u32) {
    let mut offset = offset.min(content.len());
    while !content.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &content[..offset];
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (
        u32::try_from(line).unwrap_or(u32::MAX),
        u32::try_from(column).unwrap_or(u32::MAX),
    )
}

/// An `import` of a source unit: the path as written and its line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Import {
    pub path: String,
    pub line: u32,
}

/// Every import of `content`, in order: `import "p";`, `import "p" as X;`,
/// `import * as X from "p";`, `import {A, B as C} from "p";`.
pub fn imports(content: &str) -> Vec<Import> {
    let code = strip_comments(content);
    let bytes = code.as_bytes();
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(at) = code[from..].find("import") {
        let start = from + at;
        from = start + "import".len();
        let boundary_before = start == 0 || !is_ident(bytes[start - 1]);
        let boundary_after = bytes.get(from).is_some_and(|b| !is_ident(*b));
        if !boundary_before || !boundary_after {
            continue;
        }
        let Some(end) = code[from..].find(';').map(|e| from + e) else {
            break;
        };
        let statement = &code[from..end];
        if let Some(path) = first_string_literal(statement) {
            found.push(Import {
                path,
                line: line_of(content, start),
            });
        }
        from = end;
    }
    found
}

/// Whether `b` can be part of a Solidity identifier.
pub(crate) fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$'
}

fn first_string_literal(statement: &str) -> Option<String> {
    let start = statement.find(['"', '\''])?;
    let quote = statement.as_bytes()[start];
    let rest = &statement[start + 1..];
    let end = rest.bytes().position(|b| b == quote)?;
    Some(rest[..end].to_owned())
}

/// The source unit name an import leads to, as solc names it: `./` and `../` paths are
/// relative to the importing unit's directory, any other path is a name as it stands.
pub fn resolve(importer: &str, path: &str) -> Result<String, String> {
    let relative = path.starts_with("./") || path.starts_with("../");
    let mut parts: Vec<&str> = if relative {
        importer.split('/').collect::<Vec<_>>()
    } else {
        Vec::new()
    };
    if relative {
        parts.pop(); // the importing file itself
    }
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(format!(
                        "`{path}` leads above the root of the sources from `{importer}`"
                    ));
                }
            }
            other => parts.push(other),
        }
    }
    Ok(parts.join("/"))
}

/// Why a source unit name is refused, if it is: names are relative paths of `.sol` files.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 256 {
        return Err(format!(
            "source names are 1 to 256 characters; `{name}` is not"
        ));
    }
    if name.starts_with('/') || name.contains('\\') || name.chars().any(char::is_control) {
        return Err(format!(
            "`{name}`: source names are relative paths with `/` separators, without control characters"
        ));
    }
    if name
        .split('/')
        .any(|s| s.is_empty() || s == "." || s == "..")
    {
        return Err(format!(
            "`{name}`: a source name may not contain empty, `.` or `..` segments"
        ));
    }
    if !name.ends_with(".sol") {
        return Err(format!("`{name}`: Solidity sources end in `.sol`"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_import_form_is_found_with_its_line_and_comments_are_not_imports() {
        let source = "pragma solidity ^0.8.0;\nimport \"./A.sol\";\nimport './B.sol' as B;\n// import \"./Nope.sol\";\n/* import \"./Nope2.sol\"; */\nimport * as C from \"../c/C.sol\";\nimport {X, Y as Z} from \"@openzeppelin/contracts/token/ERC20/ERC20.sol\";\ncontract importer { string s = \"import\"; }\n";
        let found = imports(source);
        let paths: Vec<_> = found.iter().map(|i| (i.path.as_str(), i.line)).collect();
        assert_eq!(
            paths,
            [
                ("./A.sol", 2),
                ("./B.sol", 3),
                ("../c/C.sol", 6),
                ("@openzeppelin/contracts/token/ERC20/ERC20.sol", 7)
            ]
        );
    }

    #[test]
    fn imports_resolve_like_solc_names_them() {
        assert_eq!(
            resolve("contracts/a/A.sol", "./B.sol").unwrap(),
            "contracts/a/B.sol"
        );
        assert_eq!(
            resolve("contracts/a/A.sol", "../lib/L.sol").unwrap(),
            "contracts/lib/L.sol"
        );
        assert_eq!(
            resolve("contracts/A.sol", "lib/L.sol").unwrap(),
            "lib/L.sol"
        );
        assert_eq!(
            resolve(
                "@openzeppelin/contracts/token/ERC20/ERC20.sol",
                "./IERC20.sol"
            )
            .unwrap(),
            "@openzeppelin/contracts/token/ERC20/IERC20.sol"
        );
        assert!(resolve("A.sol", "../../x.sol").is_err());
    }

    #[test]
    fn positions_count_lines_and_characters() {
        let text = "ab\ncdé\nf";
        assert_eq!(position(text, 0), (1, 1));
        assert_eq!(position(text, 3), (2, 1));
        assert_eq!(position(text, 8), (3, 1), "é is two bytes, one column");
        assert_eq!(position(text, 100), (3, 2));
    }

    #[test]
    fn source_names_are_relative_sol_paths() {
        assert!(check_name("contracts/Token.sol").is_ok());
        for bad in [
            "",
            "/etc/passwd.sol",
            "a/../b.sol",
            "a//b.sol",
            "a.txt",
            "a\\b.sol",
        ] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}
