//! XLSX workbooks: the first sheet or the one named, the header on the first non-empty row.
//! Numbers, dates and booleans are turned into the text a CSV export would carry.
//!
//! Cells are streamed and kept sparse, and the range they span is bounded while they are read:
//! calamine's own `worksheet_range` allocates every cell of that range at once, and one stray
//! cell at XFD1048576 asked it for 512 GiB.

use std::io::Cursor;

use calamine::{Data, Dimensions, ExcelDateTime, Reader, Xlsx};
use cdg_shared::text;

use super::{BatchOut, HeaderMap, Raw, ReadOptions, RowSink};

/// Largest range (rows × columns) a sheet may span: 2 million rows of 200 columns, far above
/// any export (Excel itself stops at 1,048,576 rows, and a dataset has a few dozen columns).
const MAX_CELLS: u64 = 2_000_000 * 200;

/// Largest serial day Excel shows as a date (9999-12-31 in the 1904 system, the smaller).
const MAX_DATE_SERIAL: f64 = 2_957_003.0;

/// A cell's (row, column) and its text.
type Placed = ((u32, u32), String);

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
                    "no sheet {} in the workbook; its sheets are {}",
                    text::quote(wanted),
                    names.join(", ")
                )
            })?,
        None => names.first().cloned().ok_or("the workbook has no sheet")?,
    };
    let cells = sheet_cells(&mut book, &sheet)?;
    let first_column = cells.iter().map(|((_, c), _)| *c).min().unwrap_or(0);
    let last_column = cells.iter().map(|((_, c), _)| *c).max().unwrap_or(0);
    let width = (last_column - first_column) as usize + 1;
    let mut rows = cells
        .chunk_by(|a, b| a.0.0 == b.0.0)
        .filter(|row| !row.iter().all(|(_, t)| t.trim().is_empty()));
    let header_row = rows.next().ok_or_else(|| {
        format!(
            "sheet {} is empty: a header row is expected",
            text::quote(&sheet)
        )
    })?;
    let header_at = header_row.first().map_or(0, |((r, _), _)| *r);
    let merged = book.merge_cells_by_sheet_name(&sheet).map_err(|e| {
        format!(
            "cannot read the merged cells of sheet {}: {e}",
            text::quote(&sheet)
        )
    })?;
    if let Some(m) = merged
        .iter()
        .find(|m| m.start.0 <= header_at && header_at <= m.end.0)
    {
        return Err(format!(
            "sheet {}: the header row {} has merged cells ({}); unmerge them so that each \
             column has its own header",
            text::quote(&sheet),
            u64::from(header_at) + 1,
            a1(m)
        ));
    }
    let mut fields: Vec<&str> = vec![""; width];
    spread(header_row, first_column, &mut fields);
    let headers: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
    let positions = map(&headers)?;
    let mut sink = RowSink::new(positions, width, out);
    for row in rows {
        spread(row, first_column, &mut fields);
        let line = row.first().map_or(0, |((r, _), _)| u64::from(*r) + 1);
        sink.row(line, &fields);
    }
    Ok(Raw {
        rows: sink.finish()?,
        read_as: format!("XLSX, sheet {}", text::quote(&sheet)),
    })
}

/// Puts the cells of one row in their columns (the sheet's first column is `first_column`).
fn spread<'a>(row: &'a [Placed], first_column: u32, fields: &mut [&'a str]) {
    fields.iter_mut().for_each(|f| *f = "");
    for ((_, column), text) in row {
        // Every column lies between the sheet's first and last: the slot exists.
        if let Some(slot) = fields.get_mut(column.saturating_sub(first_column) as usize) {
            *slot = text.as_str();
        }
    }
}

/// The non-empty cells of `sheet` as text, in reading order, refused as soon as they span more
/// than [`MAX_CELLS`]. The range the sheet declares (`<dimension>`) is not what counts: this
/// reader never allocates by it, and some tools declare far more than they fill.
fn sheet_cells(book: &mut Xlsx<Cursor<&[u8]>>, sheet: &str) -> Result<Vec<Placed>, String> {
    let mut reader = book
        .worksheet_cells_reader(sheet)
        .map_err(|e| format!("cannot read sheet {}: {e}", text::quote(sheet)))?;
    let mut cells = Vec::new();
    let mut used: Option<Dimensions> = None;
    while let Some(cell) = reader
        .next_cell()
        .map_err(|e| format!("cannot read sheet {}: {e}", text::quote(sheet)))?
    {
        let value = Data::from(cell.get_value().clone());
        if value == Data::Empty {
            continue;
        }
        let (row, column) = cell.get_position();
        let range = used.get_or_insert(Dimensions::new((row, column), (row, column)));
        if !range.contains(row, column) {
            range.start = (range.start.0.min(row), range.start.1.min(column));
            range.end = (range.end.0.max(row), range.end.1.max(column));
            check_range(sheet, *range)?;
        }
        cells.push(((row, column), cell_text(&value)));
    }
    // Sheets list their cells row by row; the few tools that do not are put in order here.
    cells.sort_by_key(|(position, _)| *position);
    Ok(cells)
}

/// Refuses a range larger than [`MAX_CELLS`], saying what makes it so and what to do.
fn check_range(sheet: &str, range: Dimensions) -> Result<(), String> {
    let rows = u64::from(range.end.0.saturating_sub(range.start.0)) + 1;
    let columns = u64::from(range.end.1.saturating_sub(range.start.1)) + 1;
    if rows.saturating_mul(columns) <= MAX_CELLS {
        return Ok(());
    }
    Err(format!(
        "sheet {} has cells over {} ({rows} rows × {columns} columns), more than the \
         {MAX_CELLS} cells an export may span; a value far below or to the right of the data \
         (a note, an add-in's data) makes the range that large. Delete the rows and columns \
         after the data and save the workbook again, or export the sheet as CSV",
        text::quote(sheet),
        a1(&range)
    ))
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
        Data::DateTime(d) if d.is_datetime() => excel_date(d),
        Data::DateTime(d) => d.as_f64().to_string(),
        Data::Error(e) => format!("#{e:?}"),
    }
}

/// The date of a date cell, by calamine's own conversion, which knows the workbook's date
/// system: 1900 (with Excel's 29 February 1900) or 1904 (older Mac workbooks), where the same
/// serial is a date four years later. A serial Excel would not show as a date keeps its
/// number, for the checks to refuse (calamine would clamp it to a bound).
fn excel_date(d: &ExcelDateTime) -> String {
    let serial = d.as_f64();
    if !(0.0..MAX_DATE_SERIAL).contains(&serial) {
        return serial.to_string();
    }
    let (year, month, day, ..) = d.to_ymd_hms_milli();
    format!("{year:04}-{month:02}-{day:02}")
}

/// A range in A1 notation.
fn a1(d: &Dimensions) -> String {
    let cell = |(row, col): (u32, u32)| {
        let mut name = String::new();
        let mut c = u64::from(col) + 1;
        while c > 0 {
            name.insert(0, char::from(b'A' + ((c - 1) % 26) as u8));
            c = (c - 1) / 26;
        }
        format!("{name}{}", u64::from(row) + 1)
    };
    format!("{}:{}", cell(d.start), cell(d.end))
}

#[cfg(test)]
mod tests {
    use calamine::ExcelDateTimeType;

    use super::*;

    #[test]
    fn cells_as_text() {
        assert_eq!(cell_text(&Data::Float(2024.0)), "2024");
        assert_eq!(cell_text(&Data::Float(0.8)), "0.8");
        assert_eq!(cell_text(&Data::Bool(true)), "oui");
        let date = |serial, is_1904| {
            cell_text(&Data::DateTime(ExcelDateTime::new(
                serial,
                ExcelDateTimeType::DateTime,
                is_1904,
            )))
        };
        assert_eq!(date(45292.0, false), "2024-01-01");
        assert_eq!(date(45292.0 - 1462.0, true), "2024-01-01");
        assert_eq!(date(-3.0, false), "-3");
        assert_eq!(
            a1(&Dimensions {
                start: (0, 1),
                end: (0, 27)
            }),
            "B1:AB1"
        );
        assert_eq!(
            a1(&Dimensions::new((0, 0), (1_048_575, 16_383))),
            "A1:XFD1048576"
        );
    }
}
