//! Writes the seed inputs of every fuzz target into `tests/fuzz/corpus/<target>/seed-*`: real
//! study files and their canonical encodings, a well-formed node answer, one request of each
//! kind (with a real signed approval), a real audit log and small exports in each format the
//! import reads, so that the fuzzers start from what the network and the import really take. `cargo run --release -p cdg-fuzzing --example seeds`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use cdg_shared::cdg::Cdg;
use cdg_shared::identity::{Principal, Role};
use cdg_shared::proto::v1;
use cdg_shared::signing::{Decision, Signer};
use cdg_shared::study::Study;
use cdg_shared::tls::TlsFiles;
use prost::Message;

fn write(target: &str, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join(format!("seed-{name}")), bytes)?;
    Ok(())
}

fn request(kind: u8, message: &impl Message) -> Vec<u8> {
    let mut bytes = vec![kind];
    bytes.extend(message.encode_to_vec());
    bytes
}

/// A released answer to the targets' query (agents by sexe and catégorie: count, mean etpr).
fn answer(study: &Study) -> anyhow::Result<Vec<u8>> {
    let query = &study.queries[0].query;
    let text = |v: &[&str]| Arc::new(StringArray::from(v.to_vec())) as ArrayRef;
    let columns = vec![
        text(&["F", "H"]),
        text(&["A", "C"]),
        text(&["diffusé", "secret: seuil"]),
        Arc::new(Int64Array::from(vec![Some(120), None])) as ArrayRef,
        Arc::new(Float64Array::from(vec![Some(0.93), None])) as ArrayRef,
    ];
    let batch = RecordBatch::try_new(query.result_schema(), columns)?;
    Ok(cdg_shared::arrow_ipc::encode(&batch.schema(), &[batch])?)
}

fn main() -> anyhow::Result<()> {
    cdg_shared::tls::install_crypto_provider();
    let studies = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../coordinator/studies");
    for entry in std::fs::read_dir(&studies)? {
        let path = entry?.path();
        let text = std::fs::read_to_string(&path)?;
        let name = path
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        write("study_toml", &name, text.as_bytes())?;
        let study = Study::from_toml(&text)?;
        write("study_canonical", &name, &study.canonical())?;
    }
    let study = Study::from_toml(
        "title = \"Effectifs\"\npurpose = \"graines du fuzzing\"\ndiffusion = \"interne\"\n\
         departements = [\"02\", \"59\"]\n\n[[query]]\nname = \"effectifs\"\n\
         title = \"Effectifs par sexe et catégorie\"\ndataset = \"agents\"\n\
         group_by = [\"sexe\", \"categorie\"]\nmeasures = [\"count\", \"mean(etpr)\"]\n",
    )?;
    let arrow_ipc = answer(&study)?;
    write("node_answer", "released-and-withheld", &arrow_ipc)?;
    let response = v1::ExecuteResponse {
        arrow_ipc,
        cells_released: 1,
        cells_suppressed: 1,
        ..Default::default()
    };
    write(
        "node_response",
        "released-and-withheld",
        &response.encode_to_vec(),
    )?;

    let dir = tempfile::tempdir()?;
    let pki = cdg_certs_dev::generate(dir.path(), &Default::default())?;
    let files = |p: Principal| -> anyhow::Result<TlsFiles> {
        let leaf = pki
            .leaf(p)
            .ok_or_else(|| anyhow::anyhow!("no {p} in the PKI"))?;
        Ok(TlsFiles {
            ca: pki.ca_cert(),
            cert: leaf.cert,
            key: leaf.key,
        })
    };
    let director = Signer::from_files(&files(Principal::new(Role::Director, Cdg::Aisne))?)?;
    let approval = director.decide(&study.digest(), Decision::Approve, "d'accord")?;
    let execute = v1::ExecuteRequest {
        protocol_version: cdg_shared::proto::PROTOCOL_VERSION,
        query: Some(v1::AggregateQuery {
            dataset: "agents".into(),
            group_by: vec!["sexe".into(), "categorie".into()],
            measures: vec![v1::Measure {
                aggregate: v1::Aggregate::Count as i32,
                column: String::new(),
            }],
            filters: vec![v1::Filter {
                dimension: "annee".into(),
                values: vec!["2024".into()],
            }],
        }),
        study_id: study.id(),
        query_name: "effectifs".into(),
        analyst: String::new(),
        study: study.canonical(),
        approvals: vec![approval.clone()],
    };
    write("requests", "execute", &request(0, &execute))?;
    let submit = v1::SubmitStudyRequest {
        protocol_version: 1,
        study_toml: cdg_coordinator::study::DEMO_STUDY.into(),
    };
    write("requests", "submit", &request(1, &submit))?;
    let decide = v1::DecideStudyRequest {
        protocol_version: 1,
        study_id: study.id(),
        decision: Some(approval),
    };
    write("requests", "decide", &request(2, &decide))?;

    let log = dir.path().join("audit.log");
    let signer = Signer::from_files(&files(Principal::new(Role::Coordinator, Cdg::Nord))?)?;
    let mut audit = cdg_shared::audit::AuditLog::open_signed(&log, signer, |_| {})?;
    let details = serde_json::json!({ "title": "Effectifs", "digest": study.digest() });
    audit.append(
        "study.submitted",
        "urn:cdg-hdf:charge-de-mission:59",
        &study.id(),
        details,
    )?;
    let details = serde_json::json!({ "cdg": "02", "note": "d'accord" });
    audit.append(
        "study.approve",
        "urn:cdg-hdf:director:02",
        &study.id(),
        details,
    )?;
    write("audit_log", "two-entries", &std::fs::read(&log)?)?;
    exports()?;
    println!("seeds written under tests/fuzz/corpus/");
    Ok(())
}

/// A few rows of an agents export, as CSV (UTF-8 with `;`, Windows-1252 with `,` and quotes),
/// XLSX (a note sheet, then the data with a date cell) and Parquet.
fn exports() -> anyhow::Result<()> {
    let header = ["matricule", "sexe", "date_naissance", "etpr"];
    let rows = [
        ["A001", "F", "1975-03-02", "1"],
        ["A002", "H", "1988-11-30", "0.8"],
    ];
    let mut csv = header.join(";") + "\n";
    for row in rows {
        csv += &(row.join(";") + "\n");
    }
    write("import_csv", "semicolon-utf8", csv.as_bytes())?;
    let latin = "matricule,libell\u{e9},etpr\r\n\"A003\",\"Adjoint, 2e classe\",0.5\r\n";
    let (bytes, _, _) = encoding_rs::WINDOWS_1252.encode(latin);
    write("import_csv", "comma-windows-1252", &bytes)?;

    let mut book = rust_xlsxwriter::Workbook::new();
    book.add_worksheet()
        .set_name("Notes")?
        .write_string(0, 0, "Export du SIRH")?;
    let sheet = book.add_worksheet().set_name("Agents")?;
    for (c, name) in header.iter().enumerate() {
        sheet.write_string(0, c as u16, *name)?;
    }
    let date = rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd");
    for (r, row) in rows.iter().enumerate() {
        let r = r as u32 + 1;
        sheet.write_string(r, 0, row[0])?;
        sheet.write_string(r, 1, row[1])?;
        let day = rust_xlsxwriter::ExcelDateTime::parse_from_str(row[2])?;
        sheet.write_datetime_with_format(r, 2, &day, &date)?;
        sheet.write_number(r, 3, row[3].parse::<f64>()?)?;
    }
    write("import_xlsx", "two-sheets", &book.save_to_buffer()?)?;

    let text = |i: usize| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r[i])))
    };
    let columns: Vec<(&str, ArrayRef)> = vec![
        (header[0], text(0)),
        (header[1], text(1)),
        (header[2], text(2)),
        (header[3], Arc::new(Float64Array::from(vec![1.0, 0.8]))),
    ];
    let batch = RecordBatch::try_from_iter(columns)?;
    let mut parquet = Vec::new();
    let mut writer = parquet::arrow::ArrowWriter::try_new(&mut parquet, batch.schema(), None)?;
    writer.write(&batch)?;
    writer.close()?;
    write("import_parquet", "typed-columns", &parquet)?;
    Ok(())
}
