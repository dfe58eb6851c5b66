//! Where a node is: solc's `src` (`start:length:file`, byte offsets into the unit's text) turned
//! into 1-based lines and columns (columns count characters, as editors do).

/// A byte range of one source unit, as solc's `src` gives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    pub start: usize,
    pub length: usize,
    /// The unit's index (`sources[name].id` of solc's output).
    pub file: usize,
}

impl Span {
    /// Parses `start:length:file`; `None` for anything else (solc writes `-1` for generated
    /// code).
    pub fn parse(src: &str) -> Option<Self> {
        let mut parts = src.split(':');
        let start = parts.next()?.parse().ok()?;
        let length = parts.next()?.parse().ok()?;
        let file = parts.next()?.parse().ok()?;
        Some(Self {
            start,
            length,
            file,
        })
    }

    pub fn end(&self) -> usize {
        self.start + self.length
    }
}

/// The starts of the lines of a text, to turn byte offsets into lines and columns.
#[derive(Clone, Debug)]
pub struct LineIndex {
    text: String,
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(text: &str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Self {
            text: text.to_owned(),
            starts,
        }
    }

    /// The 1-based line and character column of byte `offset` (clamped to the text).
    pub fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.starts.partition_point(|&s| s <= offset).max(1);
        let start = self.starts[line - 1];
        let column = self
            .text
            .get(start..offset)
            .map_or(offset - start, |prefix| prefix.chars().count());
        (line, column + 1)
    }

    /// The text of 1-based `line`, without its line break.
    pub fn line(&self, line: usize) -> &str {
        let Some(&start) = self.starts.get(line.wrapping_sub(1)) else {
            return "";
        };
        let end = self.starts.get(line).map_or(self.text.len(), |&e| e - 1);
        self.text
            .get(start..end)
            .unwrap_or("")
            .trim_end_matches('\r')
    }

    pub fn text(&self) -> &str {
        &self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_become_lines_and_character_columns() {
        let index = LineIndex::new("ab\n// é\ncd");
        assert_eq!(index.position(0), (1, 1));
        assert_eq!(index.position(1), (1, 2));
        assert_eq!(index.position(3), (2, 1));
        // `é` is two bytes, one character: the `\n` after it is column 5.
        assert_eq!(index.position(8), (2, 5));
        assert_eq!(index.position(9), (3, 1));
        assert_eq!(index.position(999), (3, 3));
        assert_eq!(index.line(2), "// é");
        assert_eq!(index.line(4), "");
    }

    #[test]
    fn src_is_start_length_file() {
        assert_eq!(
            Span::parse("12:5:1"),
            Some(Span {
                start: 12,
                length: 5,
                file: 1
            })
        );
        assert_eq!(Span::parse("-1:-1:-1"), None);
        assert_eq!(Span::parse("1:2"), None);
    }
}
