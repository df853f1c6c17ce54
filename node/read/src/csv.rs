//! CSV as French spreadsheets and HR tools write it: `;` or `,` (or tab) separator, UTF-8 with
//! or without BOM, or Windows-1252.

use std::borrow::Cow;

use super::{BatchOut, Encoding, HeaderMap, Raw, ReadOptions, RowSink};

pub fn read(
    bytes: &[u8],
    options: &ReadOptions,
    map: HeaderMap,
    out: BatchOut,
) -> Result<Raw, String> {
    let (text, encoding) = decode(bytes, options.encoding)?;
    let first_line = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .ok_or("the file is empty: a header row is expected")?;
    let separator = options
        .separator
        .unwrap_or_else(|| detect_separator(first_line));
    let mut reader = ::csv::ReaderBuilder::new()
        .delimiter(separator)
        .flexible(true)
        .has_headers(true)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| format!("bad header row: {e}"))?
        .iter()
        .map(str::to_string)
        .collect();
    let positions = map(&headers).map_err(|message| {
        if headers.len() == 1 {
            format!(
                "{message}\n  The header has a single column: the separator is probably not {:?}. \
                 Give the right one with --separator.",
                separator as char
            )
        } else {
            message
        }
    })?;
    let mut sink = RowSink::new(positions, headers.len(), out);
    let mut record = ::csv::StringRecord::new();
    let mut lines = LineCounter::new(text.as_bytes());
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let line = lines.at(record.position().map_or(0, |p| p.byte()));
                sink.row_with(line, record.len(), |i| &record[i]);
            }
            Err(e) => {
                let line = lines.at(e.position().map_or(0, |p| p.byte()));
                sink.defect(line, "ligne illisible", e.to_string());
                if matches!(e.kind(), ::csv::ErrorKind::Io(_)) {
                    break;
                }
            }
        }
    }
    Ok(Raw {
        rows: sink.finish()?,
        read_as: format!(
            "CSV, separator {:?}, {}",
            separator as char,
            encoding.as_str()
        ),
    })
}

/// Line numbers of record starts. The csv crate's own line count lags behind on CRLF files
/// and blank lines, so lines are counted here from the records' byte offsets (which only grow).
struct LineCounter<'a> {
    text: &'a [u8],
    offset: usize,
    line: u64,
}

impl<'a> LineCounter<'a> {
    fn new(text: &'a [u8]) -> Self {
        LineCounter {
            text,
            offset: 0,
            line: 1,
        }
    }

    /// The line where the record reported at byte `start` begins: past the line breaks and
    /// blank lines the reader skipped before it.
    fn at(&mut self, start: u64) -> u64 {
        let mut start = (start as usize).min(self.text.len());
        while start < self.text.len() && matches!(self.text[start], b'\r' | b'\n') {
            start += 1;
        }
        if start >= self.offset {
            let breaks = self.text[self.offset..start]
                .iter()
                .filter(|&&b| b == b'\n');
            self.line += breaks.count() as u64;
            self.offset = start;
        }
        self.line
    }
}

/// The file's text: UTF-8 (a BOM is dropped) unless it is not valid UTF-8, then Windows-1252
/// (what French Excel writes for "CSV (séparateur: point-virgule)").
fn decode(bytes: &[u8], forced: Option<Encoding>) -> Result<(Cow<'_, str>, Encoding), String> {
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err("the file is UTF-16 (\"Unicode text\"): save it as CSV UTF-8".into());
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match (forced, std::str::from_utf8(bytes)) {
        (Some(Encoding::Windows1252), _) | (None, Err(_)) => {
            let (text, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(bytes);
            Ok((text, Encoding::Windows1252))
        }
        (_, Ok(text)) => Ok((Cow::Borrowed(text), Encoding::Utf8)),
        (Some(Encoding::Utf8), Err(e)) => {
            let at = e.valid_up_to();
            let line = bytes[..at].iter().filter(|&&b| b == b'\n').count() + 1;
            Err(format!(
                "not UTF-8 (line {line}, byte {at}); leave out --encoding to detect it, or give \
                 --encoding windows-1252"
            ))
        }
    }
}

/// The separator of a header line: the most frequent of `;`, `,` and tab (`;` on a tie).
fn detect_separator(line: &str) -> u8 {
    let count = |c: char| line.matches(c).count();
    [(b';', count(';')), (b',', count(',')), (b'\t', count('\t'))]
        .into_iter()
        .fold(
            (b';', 0),
            |best, (c, n)| if n > best.1 { (c, n) } else { best },
        )
        .0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separators() {
        assert_eq!(detect_separator("a;b;c"), b';');
        assert_eq!(detect_separator("a,b,c"), b',');
        assert_eq!(detect_separator("a\tb\tc"), b'\t');
        assert_eq!(detect_separator("Année;Cadre d'emplois, grade"), b';');
        assert_eq!(detect_separator("seul"), b';');
    }

    #[test]
    fn encodings() {
        let (t, e) = decode(b"\xEF\xBB\xBFann\xC3\xA9e", None).unwrap();
        assert_eq!((t.as_ref(), e), ("année", Encoding::Utf8));
        let (t, e) = decode(b"ann\xE9e", None).unwrap();
        assert_eq!((t.as_ref(), e), ("année", Encoding::Windows1252));
        let err = decode(b"a\nann\xE9e", Some(Encoding::Utf8)).unwrap_err();
        assert!(err.contains("line 2"), "{err}");
        assert!(
            decode(b"\xFF\xFEa\x00", None)
                .unwrap_err()
                .contains("UTF-16")
        );
    }
}

#[cfg(test)]
mod line_tests {
    use super::*;

    fn lines_of(text: &str) -> Vec<i64> {
        let map = |h: &[String]| Ok((0..h.len()).collect());
        let mut batches = Vec::new();
        let mut out = |b| {
            batches.push(b);
            Ok(())
        };
        read(text.as_bytes(), &ReadOptions::default(), &map, &mut out).unwrap();
        let lines = batches[0]
            .column(0)
            .as_any()
            .downcast_ref::<arrow::array::Int64Array>()
            .unwrap();
        lines.values().to_vec()
    }

    #[test]
    fn line_numbers_count_the_header_as_line_1() {
        assert_eq!(lines_of("a;b\n1;2\n3;4\n"), [2, 3]);
        assert_eq!(lines_of("a;b\r\n1;2\r\n3;4\r\n"), [2, 3]);
        assert_eq!(lines_of("a;b\n1;2\n\n3;4"), [2, 4]);
        assert_eq!(lines_of("a;b\n\"x\ny\";2\n3;4\n"), [2, 4]);
    }
}
