//! Helpers of the generator's tests: reading the CSV files back (parsing
//! decimal commas) and checking the calibration figures.

use std::path::{Path, PathBuf};

use super::*;
use cdg_shared::codes;

pub struct Agent {
    pub annee: i32,
    pub agent_id: String,
    pub employeur_id: String,
    pub statut: String,
    pub categorie: String,
    pub filiere: String,
    pub cadre: String,
    pub sexe: String,
    pub naissance: i32,
    pub temps: String,
    pub etpr: f64,
    pub pay: f64,
}

pub struct Employeur {
    pub annee: i32,
    pub id: String,
    pub type_employeur: String,
    pub tranche: String,
    pub affiliation: String,
}

pub fn decimal(s: &str) -> f64 {
    assert!(!s.contains('.'), "decimal point in {s:?}");
    let (int, frac) = s.split_once(',').expect("decimal comma");
    assert_eq!(frac.len(), 2, "two decimals in {s:?}");
    format!("{int}.{frac}").parse().expect("number")
}

pub fn reader(path: &Path) -> csv::Reader<std::fs::File> {
    csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_path(path)
        .expect("open csv")
}

pub fn read_agents(path: &Path) -> Vec<Agent> {
    let mut r = reader(path);
    assert_eq!(
        r.headers().expect("header"),
        &write::header(&cdg_shared::catalogue::AGENTS)[..]
    );
    r.records()
        .map(|rec| {
            let rec = rec.expect("record");
            Agent {
                annee: rec[0].parse().expect("annee"),
                agent_id: rec[1].to_string(),
                employeur_id: rec[2].to_string(),
                statut: rec[3].to_string(),
                categorie: rec[4].to_string(),
                filiere: rec[5].to_string(),
                cadre: rec[6].to_string(),
                sexe: rec[7].to_string(),
                naissance: rec[8].parse().expect("annee_naissance"),
                temps: rec[9].to_string(),
                etpr: decimal(&rec[10]),
                pay: decimal(&rec[11]),
            }
        })
        .collect()
}

pub fn read_employeurs(path: &Path) -> Vec<Employeur> {
    let mut r = reader(path);
    assert_eq!(
        r.headers().expect("header"),
        &write::header(&cdg_shared::catalogue::EMPLOYEURS)[..]
    );
    r.records()
        .map(|rec| {
            let rec = rec.expect("record");
            Employeur {
                annee: rec[0].parse().expect("annee"),
                id: rec[1].to_string(),
                type_employeur: rec[2].to_string(),
                tranche: rec[3].to_string(),
                affiliation: rec[4].to_string(),
            }
        })
        .collect()
}

pub fn out_dir(name: &str) -> PathBuf {
    std::env::temp_dir()
        .join("cdg-synth-tests")
        .join(format!("{name}-{}", std::process::id()))
}

pub fn run(name: &str, spec: &SynthSpec) -> (PathBuf, Vec<SynthFile>) {
    let dir = out_dir(name);
    let _ = std::fs::remove_dir_all(&dir);
    let files = generate(spec, &dir).expect("generate");
    (dir, files)
}

pub fn spec(cdg: Cdg, first_year: i32, last_year: i32, seed: u64, scale: f64) -> SynthSpec {
    SynthSpec::new(cdg, first_year, last_year, seed, scale)
}

pub fn share(agents: &[Agent], f: impl Fn(&Agent) -> bool) -> f64 {
    agents.iter().filter(|a| f(a)).count() as f64 / agents.len() as f64 * 100.0
}

pub fn assert_near(what: &str, got: f64, want: f64, tol: f64) {
    assert!(
        (got - want).abs() <= tol,
        "{what}: {got:.2} not within {tol} of {want}"
    );
}

/// The calibration figures of one year's agents, printed and checked.
pub fn check_calibration(agents: &[Agent]) {
    let year = agents[0].annee;
    let age = |a: &Agent| year - a.naissance;
    let contr: Vec<&Agent> = agents
        .iter()
        .filter(|a| codes::is_contractuel(&a.statut))
        .collect();
    let tit: Vec<&Agent> = agents
        .iter()
        .filter(|a| a.statut == "fonctionnaire titulaire")
        .collect();
    let women =
        |v: &[&Agent]| v.iter().filter(|a| a.sexe == "F").count() as f64 / v.len() as f64 * 100.0;
    let mean_age = agents.iter().map(|a| f64::from(age(a))).sum::<f64>() / agents.len() as f64;
    let fil = |names: &[&str]| share(agents, |a| names.contains(&a.filiere.as_str()));
    let figures = [
        ("women", share(agents, |a| a.sexe == "F"), 61.0),
        ("women among contractuels", women(&contr), 70.0),
        ("women among titulaires", women(&tit), 58.0),
        ("mean age", mean_age, 45.5),
        ("55 and over", share(agents, |a| age(a) >= 55), 22.5),
        ("catégorie C", share(agents, |a| a.categorie == "C"), 75.0),
        ("catégorie B", share(agents, |a| a.categorie == "B"), 13.5),
        ("catégorie A", share(agents, |a| a.categorie == "A"), 11.5),
        (
            "contractuels",
            share(agents, |a| codes::is_contractuel(&a.statut)),
            25.0,
        ),
        ("technique", fil(&["technique"]), 46.0),
        ("administrative", fil(&["administrative"]), 23.0),
        (
            "médico-sociale + sociale",
            fil(&["médico-sociale", "sociale"]),
            13.0,
        ),
        ("animation", fil(&["animation"]), 8.0),
        ("culturelle", fil(&["culturelle"]), 4.0),
        ("police municipale", fil(&["police municipale"]), 2.0),
        ("incendie et secours", fil(&["incendie et secours"]), 2.5),
        ("sportive", fil(&["sportive"]), 1.0),
        ("médico-technique", fil(&["médico-technique"]), 0.25),
    ];
    for (what, got, want) in figures {
        println!("{year} {what:<28} {got:6.2} (target {want})");
    }
    for (what, got, want) in figures {
        // Mean age target is the 45-46 range; 55+ the 20-25 range.
        let tol = match what {
            "mean age" => 0.5 + 2.0,
            "55 and over" => 2.5 + 2.0,
            _ => 2.0,
        };
        assert_near(what, got, want, tol);
    }
    assert!(fil(&["médico-technique"]) < 0.5);
    assert!(agents.iter().all(|a| (18..=67).contains(&age(a))));
}

/// Pay grows with catégorie and age, scales with ETPR, has a long right tail.
pub fn check_pay(agents: &[Agent]) {
    let full: Vec<&Agent> = agents.iter().filter(|a| a.etpr == 1.0).collect();
    let mean = |f: &dyn Fn(&Agent) -> bool| {
        let v: Vec<f64> = full.iter().filter(|a| f(a)).map(|a| a.pay).collect();
        v.iter().sum::<f64>() / v.len() as f64
    };
    let year = agents[0].annee;
    let (a, b, c) = (
        mean(&|x| x.categorie == "A"),
        mean(&|x| x.categorie == "B"),
        mean(&|x| x.categorie == "C"),
    );
    println!("{year} mean full-time pay A {a:.0} B {b:.0} C {c:.0}");
    assert!(a > b && b > c);
    let young = mean(&|x| x.categorie == "C" && year - x.naissance < 30);
    let old = mean(&|x| x.categorie == "C" && year - x.naissance >= 50);
    assert!(old > young * 1.1);
    let mut pays: Vec<f64> = full.iter().map(|a| a.pay).collect();
    pays.sort_by(f64::total_cmp);
    let median = pays[pays.len() / 2];
    let p99 = pays[pays.len() * 99 / 100];
    let mean_all = pays.iter().sum::<f64>() / pays.len() as f64;
    println!("{year} pay median {median:.0} mean {mean_all:.0} p99 {p99:.0}");
    assert!(mean_all > median && p99 > 2.0 * median);
    let part: Vec<&Agent> = agents.iter().filter(|a| a.etpr <= 0.5).collect();
    let part_mean = part.iter().map(|a| a.pay).sum::<f64>() / part.len() as f64;
    assert!(part_mean < 0.6 * mean_all);
}

/// Any generated file read back as text cells, the way the import sees it.
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// Reads a file by its extension: CSV (UTF-8, or Windows-1252 when
    /// `windows_1252`), Parquet (every column cast to text) or XLSX (first
    /// sheet, integral numbers without decimals).
    pub fn read(path: &Path, windows_1252: bool) -> Table {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        match ext {
            "parquet" => Self::parquet(path),
            "xlsx" => Self::xlsx(path),
            _ => Self::csv(path, windows_1252),
        }
    }

    fn csv(path: &Path, windows_1252: bool) -> Table {
        let bytes = std::fs::read(path).expect("read csv");
        let text = if windows_1252 {
            assert!(
                std::str::from_utf8(&bytes).is_err(),
                "{path:?} should not be UTF-8"
            );
            encoding_rs::WINDOWS_1252
                .decode_without_bom_handling(&bytes)
                .0
                .into_owned()
        } else {
            String::from_utf8(bytes).expect("utf-8")
        };
        assert!(text.ends_with("\r\n"), "CRLF line endings");
        let mut r = csv::ReaderBuilder::new()
            .delimiter(b';')
            .from_reader(text.as_bytes());
        let header = r
            .headers()
            .expect("header")
            .iter()
            .map(String::from)
            .collect();
        let rows = r
            .records()
            .map(|rec| rec.expect("record").iter().map(String::from).collect())
            .collect();
        Table { header, rows }
    }

    fn parquet(path: &Path) -> Table {
        use arrow::array::{Array, AsArray};
        let file = std::fs::File::open(path).expect("open parquet");
        let builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .expect("parquet");
        let header: Vec<String> = builder
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let mut rows = Vec::new();
        for batch in builder.build().expect("reader") {
            let batch = batch.expect("batch");
            let cols: Vec<_> = batch
                .columns()
                .iter()
                .map(|c| arrow::compute::cast(c, &arrow::datatypes::DataType::Utf8).expect("cast"))
                .collect();
            for i in 0..batch.num_rows() {
                rows.push(
                    cols.iter()
                        .map(|c| {
                            assert!(!c.is_null(i));
                            c.as_string::<i32>().value(i).to_string()
                        })
                        .collect(),
                );
            }
        }
        Table { header, rows }
    }

    fn xlsx(path: &Path) -> Table {
        use calamine::{Data, Reader, Xlsx, open_workbook};
        let mut book: Xlsx<_> = open_workbook(path).expect("xlsx");
        let sheet = book.sheet_names()[0].clone();
        let range = book.worksheet_range(&sheet).expect("sheet");
        let text = |c: &Data| match c {
            Data::String(s) => s.clone(),
            Data::Float(f) if f.fract() == 0.0 => format!("{f:.0}"),
            Data::Int(i) => i.to_string(),
            Data::Empty => String::new(),
            other => panic!("unexpected cell {other:?}"),
        };
        let mut it = range.rows();
        let header = it.next().expect("header").iter().map(text).collect();
        let rows = it.map(|r| r.iter().map(text).collect()).collect();
        Table { header, rows }
    }

    /// The position of column `name`.
    pub fn col(&self, name: &str) -> usize {
        self.header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name}"))
    }

    /// Column `name` of every row.
    pub fn values(&self, name: &str) -> Vec<&str> {
        let c = self.col(name);
        self.rows.iter().map(|r| r[c].as_str()).collect()
    }

    /// Column `name` of every row as integers.
    pub fn ints(&self, name: &str) -> Vec<i64> {
        self.values(name)
            .iter()
            .map(|v| v.parse().unwrap_or_else(|_| panic!("{name}: {v:?}")))
            .collect()
    }

    /// Share (in %) of the rows where `name` is `value`.
    pub fn share(&self, name: &str, value: &str) -> f64 {
        let v = self.values(name);
        v.iter().filter(|&&x| x == value).count() as f64 / v.len() as f64 * 100.0
    }
}

/// A date written `JJ/MM/AAAA` (CSV) or `AAAA-MM-JJ` (Parquet).
pub fn date(s: &str) -> chrono::NaiveDate {
    chrono::NaiveDate::parse_from_str(s, "%d/%m/%Y")
        .or_else(|_| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d"))
        .unwrap_or_else(|_| panic!("date {s:?}"))
}

/// The columns a synthetic file has beyond the catalogue's, as real exports do (the import
/// ignores them): the surveys' free-text comment.
pub fn extra_columns(dataset: &str) -> &'static [&'static str] {
    if dataset == "enquetes" {
        &["commentaire"]
    } else {
        &[]
    }
}

/// The table of `dataset` for `year` in `dir`, checked against the
/// catalogue: the header is the names of the columns a file gives, then
/// [`extra_columns`].
pub fn table(dir: &Path, dataset: &str, year: i32) -> Table {
    let t = Table::read(&dir.join(file_name(dataset, year)), dataset == "offres");
    let columns: Vec<&str> = cdg_shared::catalogue::dataset(dataset)
        .expect("catalogue dataset")
        .file_columns()
        .map(|c| c.name)
        .chain(extra_columns(dataset).iter().copied())
        .collect();
    assert_eq!(t.header, columns, "{dataset} header");
    t
}
