//! Header-indexed CSV reading shared by every report parser.
//!
//! CCADB reports are RFC 4180 CSV: fields in double quotes may span lines and contain doubled
//! quotes, and several columns hold JSON arrays inside quoted fields. Columns are found by their
//! header name, so column order does not matter and unknown columns are ignored. A UTF-8 byte
//! order mark before the first header is removed, and CRLF line endings are accepted.

use crate::CcadbError;
use std::cell::RefCell;
use std::collections::HashMap;
use std::io::Read;
use std::rc::Rc;

/// A problem with one data row: the row is left out of the result and the problem reported.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RowError {
    /// The 1-based line on which the row starts.
    pub line: u64,
    /// What was expected and what was found.
    pub reason: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

/// What a report parser returns: the rows it understood and the rows it could not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed<T> {
    /// Rows that parsed, in file order.
    pub rows: Vec<T>,
    /// Rows that did not, with their line numbers.
    pub errors: Vec<RowError>,
}

impl<T> Default for Parsed<T> {
    fn default() -> Self {
        Parsed { rows: Vec::new(), errors: Vec::new() }
    }
}

/// A reader that remembers where every newline is, so that rows can be given the line numbers
/// an editor shows (the CSV layer's own line counter is off by one per CRLF line).
struct LineTracking<R> {
    inner: R,
    offset: u64,
    /// Byte offsets of every `\n` read so far, ascending.
    newlines: Rc<RefCell<Vec<u64>>>,
}

impl<R: Read> Read for LineTracking<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut newlines = self.newlines.borrow_mut();
        for (i, b) in buf.iter().take(n).enumerate() {
            if *b == b'\n' {
                newlines.push(self.offset + i as u64);
            }
        }
        self.offset += n as u64;
        Ok(n)
    }
}

/// A CSV file whose header has been read.
pub(crate) struct Table<R: Read> {
    reader: csv::Reader<LineTracking<R>>,
    newlines: Rc<RefCell<Vec<u64>>>,
    columns: HashMap<String, usize>,
    width: usize,
}

/// One data row, with access to its fields by column name.
pub(crate) struct Row<'a> {
    record: &'a csv::StringRecord,
    columns: &'a HashMap<String, usize>,
}

impl<R: Read> Table<R> {
    /// Read the header row. Header names are trimmed and a leading byte order mark is dropped.
    pub fn open(input: R) -> Result<Self, CcadbError> {
        let newlines = Rc::new(RefCell::new(Vec::new()));
        let tracked = LineTracking { inner: input, offset: 0, newlines: newlines.clone() };
        let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(true).from_reader(tracked);
        let headers = reader.headers().map_err(|e| CcadbError::Header { detail: e.to_string() })?.clone();
        let mut columns = HashMap::new();
        for (i, name) in headers.iter().enumerate() {
            let name = name.trim_start_matches('\u{feff}').trim();
            // The first occurrence wins when a report repeats a column name.
            columns.entry(name.to_string()).or_insert(i);
        }
        if columns.keys().all(|k| k.is_empty()) {
            return Err(CcadbError::Header { detail: "the file is empty or its header row has no names".into() });
        }
        Ok(Table { reader, newlines, columns, width: headers.len() })
    }

    /// The 1-based line of a byte offset already read. With CRLF endings the CSV layer places a
    /// record at the `\n` ending the previous line, so a newline at the offset itself counts.
    fn line_of(&self, byte: u64) -> u64 {
        self.newlines.borrow().partition_point(|&nl| nl <= byte) as u64 + 1
    }

    /// Whether the header has a column of this name.
    pub fn has(&self, name: &str) -> bool {
        self.columns.contains_key(name)
    }

    /// Fail unless every named column is present.
    pub fn require(&self, report: &'static str, names: &[&str]) -> Result<(), CcadbError> {
        let missing: Vec<String> = names.iter().filter(|n| !self.has(n)).map(|n| n.to_string()).collect();
        if missing.is_empty() { Ok(()) } else { Err(CcadbError::MissingColumns { report, missing }) }
    }

    /// Call `f` on every data row; a row that `f` rejects, or that the CSV layer cannot read,
    /// becomes a [`RowError`]. Blank lines are skipped by the CSV layer.
    pub fn rows<T>(mut self, mut f: impl FnMut(&Row<'_>) -> Result<T, String>) -> Result<Parsed<T>, CcadbError> {
        let mut out = Parsed::default();
        let mut record = csv::StringRecord::new();
        loop {
            let start = self.reader.position().byte();
            match self.reader.read_record(&mut record) {
                Ok(false) => break,
                Ok(true) => {
                    let line = self.line_of(record.position().map_or(start, |p| p.byte()));
                    if record.len() != self.width {
                        out.errors.push(RowError {
                            line,
                            reason: format!("row has {} fields, the header has {}", record.len(), self.width),
                        });
                        continue;
                    }
                    let row = Row { record: &record, columns: &self.columns };
                    match f(&row) {
                        Ok(v) => out.rows.push(v),
                        Err(reason) => out.errors.push(RowError { line, reason }),
                    }
                }
                Err(e) => {
                    let line = self.line_of(e.position().map_or(start, |p| p.byte()));
                    if let csv::ErrorKind::Io(io) = e.kind() {
                        return Err(CcadbError::Io { detail: io.to_string() });
                    }
                    out.errors.push(RowError { line, reason: e.to_string() });
                    // A UTF-8 error leaves the reader positioned after the bad record, so
                    // reading on is safe; other kinds end the file.
                    if !matches!(e.kind(), csv::ErrorKind::Utf8 { .. }) {
                        break;
                    }
                }
            }
        }
        Ok(out)
    }
}

impl Row<'_> {
    /// The trimmed field of a column, or "" when the report has no such column.
    pub fn get(&self, name: &str) -> &str {
        self.columns.get(name).and_then(|&i| self.record.get(i)).map_or("", str::trim)
    }

    /// The field, or `None` when the column is missing or the field is empty.
    pub fn opt(&self, name: &str) -> Option<&str> {
        Some(self.get(name)).filter(|v| !v.is_empty())
    }

    /// The field, which must not be empty.
    pub fn required(&self, name: &str) -> Result<&str, String> {
        self.opt(name).ok_or_else(|| format!("`{name}` is empty"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Parsed<(String, String)> {
        Table::open(text.as_bytes()).unwrap().rows(|r| Ok((r.get("a").to_string(), r.get("b").to_string()))).unwrap()
    }

    #[test]
    fn quoted_fields_span_lines_and_double_their_quotes() {
        let p = read("a,b\r\n\"x\r\ny\",\"say \"\"hi\"\"\"\r\nz,w\r\n");
        assert_eq!(p.rows, vec![("x\r\ny".into(), "say \"hi\"".into()), ("z".into(), "w".into())]);
        assert!(p.errors.is_empty());
    }

    #[test]
    fn line_numbers_count_crlf_lines_like_an_editor() {
        for text in ["a,b\r\n1,2\r\n\"x\r\ny\",4\r\nshort\r\n", "a,b\n1,2\n\"x\ny\",4\nshort\n"] {
            let p = Table::open(text.as_bytes()).unwrap().rows(|_| Ok(())).unwrap();
            assert_eq!(p.errors.iter().map(|e| e.line).collect::<Vec<_>>(), vec![5], "{text:?}");
        }
    }

    #[test]
    fn a_byte_order_mark_and_column_order_do_not_matter() {
        let p = read("\u{feff}b,c,a\n1,2,3\n");
        assert_eq!(p.rows, vec![("3".into(), "1".into())]);
    }

    #[test]
    fn a_short_row_is_an_error_with_its_line_and_later_rows_still_parse() {
        let p = read("a,b\n\"multi\nline\",1\nonly-one\nx,y\n");
        assert_eq!(p.rows.len(), 2);
        assert_eq!(p.errors, vec![RowError { line: 4, reason: "row has 1 fields, the header has 2".into() }]);
    }

    #[test]
    fn invalid_utf8_is_a_row_error_not_a_panic() {
        let mut bytes = b"a,b\n1,2\n".to_vec();
        bytes.extend_from_slice(b"\xff\xfe,3\n4,5\n");
        let p = Table::open(&bytes[..]).unwrap().rows(|r| Ok(r.get("a").to_string())).unwrap();
        assert_eq!(p.rows, vec!["1".to_string(), "4".to_string()]);
        assert_eq!(p.errors.len(), 1);
        assert_eq!(p.errors[0].line, 3);
    }

    #[test]
    fn an_empty_file_has_no_header() {
        assert!(matches!(Table::open(&b""[..]), Err(CcadbError::Header { .. })));
    }
}
