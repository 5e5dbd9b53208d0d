//! Positions: byte offsets in a file's text → 1-based line and column (in characters), as
//! editors and `file:line:column` links count them. Built lazily, only for files that have
//! something to report.

/// Where each line of one text starts.
#[derive(Debug, Clone)]
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(text: &str) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(
            text.bytes()
                .enumerate()
                .filter(|&(_, b)| b == b'\n')
                .map(|(i, _)| i + 1),
        );
        LineIndex { starts }
    }

    /// 1-based line and column of `offset`. Offsets past the end point just after the last
    /// character; offsets inside a multi-byte character point at that character.
    pub fn locate(&self, text: &str, offset: usize) -> (usize, usize) {
        let offset = floor_char_boundary(text, offset.min(text.len()));
        let line = self.starts.partition_point(|&s| s <= offset) - 1;
        let column = text[self.starts[line]..offset].chars().count() + 1;
        (line + 1, column)
    }
}

/// The largest char boundary at or below `offset`.
pub fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// The byte range of the line holding `offset`, without its line ending.
pub fn line_bounds(text: &str, offset: usize) -> (usize, usize) {
    let offset = floor_char_boundary(text, offset);
    let start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    let end = if end > start && text.as_bytes()[end - 1] == b'\r' {
        end - 1
    } else {
        end
    };
    (start, end.max(start))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_character_is_line_one_column_one() {
        let text = "abc\ndef\n";
        assert_eq!(LineIndex::new(text).locate(text, 0), (1, 1));
    }

    #[test]
    fn offsets_map_across_lines() {
        let text = "abc\ndef\n\nxyz";
        let index = LineIndex::new(text);
        assert_eq!(index.locate(text, 3), (1, 4));
        assert_eq!(index.locate(text, 4), (2, 1));
        assert_eq!(index.locate(text, 6), (2, 3));
        assert_eq!(index.locate(text, 8), (3, 1));
        assert_eq!(index.locate(text, 9), (4, 1));
        assert_eq!(index.locate(text, 12), (4, 4));
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        let text = "é = \"ü\"\nx";
        let index = LineIndex::new(text);
        // `=` is the third character but the fourth byte.
        assert_eq!(index.locate(text, 3), (1, 3));
        // An offset inside `ü` points at `ü`.
        assert_eq!(index.locate(text, 7), (1, 6));
    }

    #[test]
    fn offsets_past_the_end_are_clamped() {
        let text = "ab\ncd";
        assert_eq!(LineIndex::new(text).locate(text, 99), (2, 3));
        assert_eq!(LineIndex::new("").locate("", 5), (1, 1));
    }

    #[test]
    fn line_bounds_drop_the_line_ending() {
        let text = "one\r\ntwo\nthree";
        assert_eq!(&text[line_bounds(text, 1).0..line_bounds(text, 1).1], "one");
        let (s, e) = line_bounds(text, 6);
        assert_eq!(&text[s..e], "two");
        let (s, e) = line_bounds(text, text.len());
        assert_eq!(&text[s..e], "three");
    }
}
