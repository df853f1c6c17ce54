//! XLSX workbooks: the first sheet or the one named, the header on the first non-empty row.
//! Numbers, dates and booleans are turned into the text a CSV export would carry.

use std::io::Cursor;

use calamine::{Data, Dimensions, Reader, Xlsx};

use super::{BatchOut, HeaderMap, Raw, ReadOptions, RowSink};

pub fn read(
    bytes: &[u8],
    options: &ReadOptions,
    map: HeaderMap,
    out: BatchOut,
) -> Result<Raw, String> {
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).map_err(|e| {
        format!("not a readable XLSX workbook ({e}); save it from the spreadsheet as .xlsx")
    })?;
    let names = book.sheet_names();
    let sheet = match &options.sheet {
        Some(wanted) => names
            .iter()
            .find(|n| n.as_str() == wanted || n.trim().eq_ignore_ascii_case(wanted.trim()))
            .cloned()
            .ok_or_else(|| {
                format!(
                    "no sheet {wanted:?} in the workbook; its sheets are {}",
                    names.join(", ")
                )
            })?,
        None => names.first().cloned().ok_or("the workbook has no sheet")?,
    };
    let range = book
        .worksheet_range(&sheet)
        .map_err(|e| format!("cannot read sheet {sheet:?}: {e}"))?;
    let origin = range.start().unwrap_or((0, 0));
    let mut rows = range.rows().enumerate().filter(|(_, r)| !is_blank(r));
    let (header_index, header_row) = rows
        .next()
        .ok_or_else(|| format!("sheet {sheet:?} is empty: a header row is expected"))?;
    let header_at = origin.0 + header_index as u32;
    let merged = book
        .merge_cells_by_sheet_name(&sheet)
        .map_err(|e| format!("cannot read the merged cells of sheet {sheet:?}: {e}"))?;
    if let Some(m) = merged
        .iter()
        .find(|m| m.start.0 <= header_at && header_at <= m.end.0)
    {
        return Err(format!(
            "sheet {sheet:?}: the header row {} has merged cells ({}); unmerge them so that \
             each column has its own header",
            header_at + 1,
            a1(m)
        ));
    }
    let headers: Vec<String> = header_row.iter().map(cell_text).collect();
    let positions = map(&headers)?;
    let mut sink = RowSink::new(positions, headers.len(), out);
    let mut texts: Vec<String> = Vec::with_capacity(headers.len());
    for (index, row) in rows {
        texts.clear();
        texts.extend(row.iter().map(cell_text));
        let fields: Vec<&str> = texts.iter().map(String::as_str).collect();
        sink.row(u64::from(origin.0) + index as u64 + 1, &fields);
    }
    Ok(Raw {
        rows: sink.finish()?,
        read_as: format!("XLSX, sheet {sheet:?}"),
    })
}

fn is_blank(row: &[Data]) -> bool {
    row.iter().all(|c| cell_text(c).trim().is_empty())
}

/// A cell as the text a CSV export would hold.
fn cell_text(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => {
            // An ISO date-time keeps its date: "2024-03-01T00:00:00" is 2024-03-01.
            match s.split_once('T') {
                Some((date, _)) if matches!(cell, Data::DateTimeIso(_)) => date.to_string(),
                _ => s.clone(),
            }
        }
        Data::Int(i) => i.to_string(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{f:.0}"),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => if *b { "oui" } else { "non" }.to_string(),
        Data::DateTime(d) if d.is_datetime() => excel_date(d.as_f64()),
        Data::DateTime(d) => d.as_f64().to_string(),
        Data::Error(e) => format!("#{e:?}"),
    }
}

/// The date of an Excel serial day number (1900 system: day 1 is 1900-01-01, counted from
/// 1899-12-30 because of Excel's 29 February 1900).
fn excel_date(serial: f64) -> String {
    let epoch = chrono::NaiveDate::from_ymd_opt(1899, 12, 30).expect("valid date");
    epoch
        .checked_add_signed(chrono::TimeDelta::days(serial.floor() as i64))
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| serial.to_string())
}

/// A range in A1 notation.
fn a1(d: &Dimensions) -> String {
    let cell = |(row, col): (u32, u32)| {
        let mut name = String::new();
        let mut c = col + 1;
        while c > 0 {
            name.insert(0, (b'A' + ((c - 1) % 26) as u8) as char);
            c = (c - 1) / 26;
        }
        format!("{name}{}", row + 1)
    };
    format!("{}:{}", cell(d.start), cell(d.end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_as_text() {
        assert_eq!(cell_text(&Data::Float(2024.0)), "2024");
        assert_eq!(cell_text(&Data::Float(0.8)), "0.8");
        assert_eq!(cell_text(&Data::Bool(true)), "oui");
        assert_eq!(excel_date(45292.0), "2024-01-01");
        assert_eq!(
            a1(&Dimensions {
                start: (0, 1),
                end: (0, 27)
            }),
            "B1:AB1"
        );
    }
}
