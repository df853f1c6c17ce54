//! The file formats and encodings the CDGs' tools write, and the ways they go wrong.

use std::sync::Arc;

use arrow::array::{ArrayRef, Int32Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use rust_xlsxwriter::{Format as CellFormat, Workbook};

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

fn write_workbook(path: &Path, merged_header: bool) {
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
    book.save(path).unwrap();
}

#[test]
fn xlsx_sheets_and_merged_headers() {
    let (dir, store) = fresh();
    write_workbook(&dir.path().join("e.xlsx"), false);
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
    write_workbook(&dir.path().join("merged.xlsx"), true);
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
