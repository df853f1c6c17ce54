//! The file formats and encodings the CDGs' tools write, and the ways they go wrong.

use std::sync::Arc;

use arrow::array::{ArrayRef, Int32Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use std::io::{Cursor, Read, Write};

use rust_xlsxwriter::{Format as CellFormat, Workbook, Worksheet};

use super::*;

const HEADER: [&str; 5] = [
    "Année",
    "Employeur ID",
    "Type employeur",
    "Tranche d'effectif",
    "Affiliation",
];

fn employeurs_rows() -> Vec<[&'static str; 5]> {
    vec![
        [
            "2024",
            "E1",
            "communauté d'agglomération",
            "350-999",
            "non affilié",
        ],
        ["2024", "E2", "commune", "1-9", "obligatoire"],
        ["2024", "E3", "métropole", "1000 et plus", "volontaire"],
    ]
}

fn import_employeurs(
    dir: &Path,
    store: &Store,
    name: &str,
    options: &ImportOptions,
) -> Result<ImportReport> {
    import_file(store, &EMPLOYEURS, 2024, &dir.join(name), options)
}

fn fresh() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("node.duckdb")).unwrap();
    (dir, store)
}

fn types_loaded(store: &Store) -> u64 {
    store.count_rows(&EMPLOYEURS, 2024).unwrap()
}

#[test]
fn windows_1252_from_french_excel_is_detected() {
    let (dir, store) = fresh();
    let mut text = HEADER.join(";");
    for r in employeurs_rows() {
        text.push_str("\r\n");
        text.push_str(&r.join(";"));
    }
    let (bytes, _, lossy) = encoding_rs::WINDOWS_1252.encode(&text);
    assert!(!lossy);
    std::fs::write(dir.path().join("e.csv"), &bytes).unwrap();
    let report = import_employeurs(dir.path(), &store, "e.csv", &Default::default()).unwrap();
    assert_eq!((report.rows_loaded, report.rows_quarantined), (3, 0));
    assert!(
        report.read_as.contains("Windows-1252"),
        "{}",
        report.read_as
    );
    // Forcing UTF-8 on it names the first bad line; nothing is loaded.
    let forced = ImportOptions {
        read: ReadOptions {
            encoding: Some(Encoding::Utf8),
            ..Default::default()
        },
        ..Default::default()
    };
    let (dir2, store2) = fresh();
    std::fs::write(dir2.path().join("e.csv"), &bytes).unwrap();
    let err = import_employeurs(dir2.path(), &store2, "e.csv", &forced)
        .unwrap_err()
        .to_string();
    assert!(err.contains("not UTF-8 (line 1"), "{err}");
    assert_eq!(types_loaded(&store2), 0);
}

#[test]
fn a_wrong_separator_is_explained() {
    let (dir, store) = fresh();
    let mut text = HEADER.join(",");
    text.push_str("\n2024,E1,commune,1-9,obligatoire\n");
    std::fs::write(dir.path().join("e.csv"), text).unwrap();
    let forced = ImportOptions {
        read: ReadOptions {
            separator: Some(b';'),
            ..Default::default()
        },
        ..Default::default()
    };
    let err = import_employeurs(dir.path(), &store, "e.csv", &forced)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("single column") && err.contains("--separator"),
        "{err}"
    );
    // Detected, the same file loads.
    let report = import_employeurs(dir.path(), &store, "e.csv", &Default::default()).unwrap();
    assert_eq!(report.rows_loaded, 1);
}

#[test]
fn truncated_and_empty_files() {
    let (dir, store) = fresh();
    let mut text = HEADER.join(";");
    for r in employeurs_rows() {
        text.push('\n');
        text.push_str(&r.join(";"));
    }
    // A copy cut in the middle of its last line: that line is quarantined, by number.
    let cut = &text[..text.len() - 12];
    std::fs::write(dir.path().join("cut.csv"), cut).unwrap();
    let lenient = ImportOptions {
        max_reject_ratio: 0.5,
        ..Default::default()
    };
    let report = import_employeurs(dir.path(), &store, "cut.csv", &lenient).unwrap();
    assert_eq!(
        (
            report.rows_read,
            report.rows_loaded,
            report.rows_quarantined
        ),
        (3, 2, 1)
    );
    let q = store.quarantine("employeurs", 2024).unwrap();
    assert_eq!(
        (q[0].0, q[0].1.as_str(), q[0].3.as_str()),
        (4, "(ligne)", "nombre de champs")
    );
    // Empty, blank or header-only files are refused and the loaded slice stays.
    for (name, content) in [
        ("empty.csv", ""),
        ("blank.csv", "\r\n \r\n"),
        ("header.csv", "Année;Employeur ID\r\n"),
    ] {
        std::fs::write(dir.path().join(name), content).unwrap();
        let err = import_employeurs(dir.path(), &store, name, &Default::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("empty") || err.contains("no data rows") || err.contains("missing column"),
            "{name}: {err}"
        );
        assert_eq!(
            types_loaded(&store),
            2,
            "{name} left the loaded slice alone"
        );
    }
}

/// A workbook of a note sheet and the Employeurs sheet, which `then` may add to.
fn write_workbook(path: &Path, merged_header: bool, then: impl FnOnce(&mut Worksheet)) {
    let mut book = Workbook::new();
    let notes = book.add_worksheet();
    notes.set_name("Notes").unwrap();
    notes.write_string(0, 0, "Export du 02/01/2025").unwrap();
    let sheet = book.add_worksheet();
    sheet.set_name("Employeurs").unwrap();
    let bold = CellFormat::new().set_bold();
    if merged_header {
        sheet
            .merge_range(0, 0, 0, 1, "Année et employeur", &bold)
            .unwrap();
    } else {
        sheet.write_string(0, 0, HEADER[0]).unwrap();
        sheet.write_string(0, 1, HEADER[1]).unwrap();
    }
    for (c, h) in HEADER.iter().enumerate().skip(2) {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    for (r, row) in employeurs_rows().iter().enumerate() {
        let r = r as u32 + 1;
        // Years come out of spreadsheets as numbers.
        sheet.write_number(r, 0, 2024.0).unwrap();
        for (c, v) in row.iter().enumerate().skip(1) {
            sheet.write_string(r, c as u16, *v).unwrap();
        }
    }
    then(sheet);
    book.save(path).unwrap();
}

#[test]
fn xlsx_sheets_and_merged_headers() {
    let (dir, store) = fresh();
    write_workbook(&dir.path().join("e.xlsx"), false, |_| {});
    // The first sheet is a note, not the data: the message lists what is wrong.
    let err = import_employeurs(dir.path(), &store, "e.xlsx", &Default::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("missing column(s) annee"), "{err}");
    let sheet = |name: &str| ImportOptions {
        read: ReadOptions {
            sheet: Some(name.to_string()),
            ..Default::default()
        },
        ..Default::default()
    };
    let err = import_employeurs(dir.path(), &store, "e.xlsx", &sheet("Agents"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("its sheets are Notes, Employeurs"), "{err}");
    let report = import_employeurs(dir.path(), &store, "e.xlsx", &sheet("employeurs")).unwrap();
    assert_eq!((report.rows_loaded, report.rows_quarantined), (3, 0));
    write_workbook(&dir.path().join("merged.xlsx"), true, |_| {});
    let err = import_employeurs(dir.path(), &store, "merged.xlsx", &sheet("Employeurs"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("merged cells (A1:B1)") && err.contains("unmerge"),
        "{err}"
    );
    assert_eq!(
        types_loaded(&store),
        3,
        "the refused workbook left the slice alone"
    );
    std::fs::write(dir.path().join("old.xls"), b"\xD0\xCF\x11\xE0").unwrap();
    let err = import_employeurs(dir.path(), &store, "old.xls", &Default::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("save the sheet as .xlsx"), "{err}");
}

#[test]
fn parquet_files_load_with_typed_columns() {
    let (dir, store) = fresh();
    let rows = employeurs_rows();
    let text = |i: usize| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r[i])))
    };
    let schema = Arc::new(Schema::new(vec![
        Field::new("annee", DataType::Int32, false),
        Field::new("employeur_id", DataType::Utf8, false),
        Field::new("type_employeur", DataType::Utf8, false),
        Field::new("tranche_effectif", DataType::Utf8, false),
        Field::new("affiliation", DataType::Utf8, true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int32Array::from(vec![2024, 2024, 2023])),
            text(1),
            text(2),
            text(3),
            text(4),
        ],
    )
    .unwrap();
    let file = std::fs::File::create(dir.path().join("e.parquet")).unwrap();
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, schema, None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    let lenient = ImportOptions {
        max_reject_ratio: 0.5,
        ..Default::default()
    };
    let report = import_employeurs(dir.path(), &store, "e.parquet", &lenient).unwrap();
    assert_eq!((report.rows_loaded, report.rows_quarantined), (2, 1));
    assert_eq!(report.by_reason.get("annee: autre année"), Some(&1));
    std::fs::write(dir.path().join("bad.parquet"), b"PAR1 not really").unwrap();
    let err = import_employeurs(dir.path(), &store, "bad.parquet", &Default::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a readable Parquet file"), "{err}");
}

/// `xlsx` with its part `name` rewritten by `edit`, for what rust_xlsxwriter does not write.
fn patched(xlsx: &[u8], name: &str, edit: impl Fn(&str) -> String) -> Vec<u8> {
    let mut archive = zip::ZipArchive::new(Cursor::new(xlsx)).unwrap();
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for i in 0..archive.len() {
        let mut part = archive.by_index(i).unwrap();
        if part.name().unwrap() == name {
            let mut text = String::new();
            part.read_to_string(&mut text).unwrap();
            let stored = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Stored);
            out.start_file(name, stored).unwrap();
            out.write_all(edit(&text).as_bytes()).unwrap();
        } else {
            out.raw_copy_file(part).unwrap();
        }
    }
    out.finish().unwrap().into_inner()
}

#[test]
fn a_cell_in_the_far_corner_of_a_sheet_is_refused_and_the_loaded_slice_kept() {
    let (dir, store) = fresh();
    let sheet = ImportOptions {
        read: ReadOptions {
            sheet: Some("Employeurs".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    write_workbook(&dir.path().join("e.xlsx"), false, |_| {});
    import_employeurs(dir.path(), &store, "e.xlsx", &sheet).unwrap();
    let before = store.data_versions().unwrap();
    // One value in the last cell Excel has: calamine's range of it is 512 GiB.
    write_workbook(&dir.path().join("far.xlsx"), false, |s| {
        s.write_string(1_048_575, 16_383, "x").unwrap();
    });
    // The same, declaring a small range: the cells read count, not what the sheet says.
    let far = std::fs::read(dir.path().join("far.xlsx")).unwrap();
    let lying = patched(&far, "xl/worksheets/sheet2.xml", |xml| {
        xml.replace("A1:XFD1048576", "A1:E4")
    });
    assert_ne!(lying, far, "the dimension was rewritten");
    std::fs::write(dir.path().join("lying.xlsx"), lying).unwrap();
    for name in ["far.xlsx", "lying.xlsx"] {
        let err = import_employeurs(dir.path(), &store, name, &sheet)
            .unwrap_err()
            .to_string();
        for expected in [
            "sheet \"Employeurs\" has cells over A1:XFD1048576",
            "1048576 rows × 16384 columns",
            "save the workbook again, or export the sheet as CSV",
        ] {
            assert!(err.contains(expected), "{name}: {err}");
        }
        assert_eq!(store.data_versions().unwrap(), before, "{name}");
        assert_eq!(types_loaded(&store), 3, "{name}");
    }
}

/// The rows a workbook's first sheet reads as, one text per cell.
fn read_cells(bytes: &[u8]) -> Vec<Vec<String>> {
    let map = |h: &[String]| Ok((0..h.len()).collect());
    let mut batches = Vec::new();
    let mut out = |b| {
        batches.push(b);
        Ok(())
    };
    let options = ReadOptions {
        format: Some(Format::Xlsx),
        ..Default::default()
    };
    read::read(Path::new("d.xlsx"), bytes, &options, &map, &mut out).unwrap();
    let batch: &RecordBatch = &batches[0];
    (0..batch.num_rows())
        .map(|r| {
            (3..batch.num_columns())
                .map(|c| {
                    batch
                        .column(c)
                        .as_any()
                        .downcast_ref::<StringArray>()
                        .unwrap()
                })
                .map(|col| col.value(r).to_string())
                .collect()
        })
        .collect()
}

#[test]
fn dates_of_a_1904_workbook_are_read_in_its_date_system() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dates.xlsx");
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    let date = CellFormat::new().set_num_format("dd/mm/yyyy");
    sheet.write_string(0, 0, "date_publication").unwrap();
    sheet.write_string(0, 1, "annee").unwrap();
    // 2024-03-01 is day 43890 of the 1904 system (older Mac workbooks).
    sheet
        .write_number_with_format(1, 0, 43890.0, &date)
        .unwrap();
    sheet.write_number(1, 1, 2024.0).unwrap();
    book.save(&path).unwrap();
    let in_1900 = std::fs::read(&path).unwrap();
    let in_1904 = patched(&in_1900, "xl/workbook.xml", |xml| {
        xml.replacen("<workbookPr", "<workbookPr date1904=\"1\"", 1)
    });
    assert_ne!(
        in_1904, in_1900,
        "the workbook was switched to the 1904 system"
    );
    assert_eq!(read_cells(&in_1904), [["2024-03-01", "2024"]]);
    // The same serial in the 1900 system is four years and a day earlier.
    assert_eq!(read_cells(&in_1900), [["2020-02-29", "2024"]]);
}
