//! The HTML report of a study run on a real node, opened in a real headless browser (Debian's
//! `chromium`): the page is screenshotted, its charts are drawn, and every figure in its tables
//! is the result's, every withheld cell marked.

use std::path::Path;
use std::time::Duration;

use cdg_coordinator::output::{measure_columns, query_batch, tables};
use cdg_coordinator::pivot::{Mark, pivot};
use cdg_coordinator::report::format::number;
use cdg_shared::cdg::Cdg;
use cdg_shared::identity::{Principal, Role};
use cdg_shared::study::Study;
use cdg_tests::{LAST_YEAR, identity, one_node, start_coordinator};

/// Set to `require` (as `.ci/run` does) to fail, instead of skipping, without a browser.
const REQUIRE: &str = "CDG_BROWSER_TESTS";

fn browser() -> Option<&'static str> {
    let found = ["chromium", "chromium-browser"].into_iter().find(|b| {
        std::process::Command::new(b)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if found.is_none() {
        let why = "SKIPPED: no chromium to open the report (apt-get install chromium)";
        assert_ne!(std::env::var(REQUIRE).as_deref(), Ok("require"), "{why}");
        println!("{why}");
    }
    found
}

/// Runs the browser headless on `page` with `args`; returns its standard output.
async fn open(browser: &str, page: &Path, profile: &Path, args: &[&str]) -> String {
    let mut command = tokio::process::Command::new(browser);
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(120), command.output())
        .await
        .expect("the browser answers within 2 minutes")
        .expect("the browser runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// An attribute of an HTML start tag.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let end = start + tag[start..].find('"')?;
    Some(
        tag[start..end]
            .replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
}

/// The cells of the table of `name` and `measure` in `dom`: (data-cle, class, data-valeur, text).
fn cells(dom: &str, name: &str, measure: &str) -> Vec<(String, String, Option<f64>, String)> {
    let open = format!("<table data-table=\"{name}\" data-mesure=\"{measure}\">");
    let start = dom
        .find(&open)
        .unwrap_or_else(|| panic!("no table {name}/{measure}"));
    let table = &dom[start..start + dom[start..].find("</table>").unwrap()];
    table
        .split("<td ")
        .skip(1)
        .map(|td| {
            let tag = &td[..td.find('>').unwrap()];
            let text = &td[td.find('>').unwrap() + 1..td.find("</td>").unwrap()];
            (
                attribute(&format!(" {tag}"), "data-cle").unwrap(),
                attribute(&format!(" {tag}"), "class").unwrap(),
                attribute(&format!(" {tag}"), "data-valeur").map(|v| v.parse().unwrap()),
                text.replace("&amp;", "&")
                    .replace("&lt;", "<")
                    .replace("&gt;", ">"),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_report_opens_offline_with_its_charts_and_the_results_figures() {
    let Some(browser) = browser() else { return };
    let n = one_node().await;
    let coordinator =
        start_coordinator(n.dir.path(), &n.pki, &[(Cdg::Aisne, n.node.url())], 30).await;
    let me = identity(&n.pki, Principal::new(Role::ChargeDeMission, Cdg::Nord));
    let mut client = cdg_tests::coordinator_client(&coordinator.url(), &me).await;
    let first = LAST_YEAR - 2;
    let text = format!(
        r#"title = "Rapport de test"
purpose = "Conférence régionale : la pyramide, l'évolution, les catégories"
diffusion = "interne"
departements = ["02"]

[[query]]
name = "pyramide"
title = "Pyramide des âges"
dataset = "agents"
group_by = ["sexe", "tranche_age"]
measures = ["count"]
filters = {{ annee = {LAST_YEAR} }}

[[query]]
name = "evolution"
title = "Effectifs par année et catégorie"
dataset = "agents"
group_by = ["annee", "categorie"]
measures = ["count", "sum(etpr)"]
filters = {{ annee = [{first}, {}, {LAST_YEAR}] }}

[[query]]
name = "contractuels"
title = "Part des contractuels par filière"
dataset = "agents"
group_by = ["filiere"]
measures = ["mean(contractuel)"]
filters = {{ annee = {LAST_YEAR} }}

[[indicator]]
name = "indice"
title = "Effectifs par catégorie, base 100"
kind = "index"
of = "evolution.count"
base = {first}
"#,
        first + 1
    );
    let study = Study::from_toml(&text).unwrap();
    let id = client.submit(text).await.unwrap().study_id;
    cdg_tests::approve_as_directors(&coordinator.url(), &n.pki, &id, &[Cdg::Aisne]).await;
    let result = client.run(&id).await.unwrap();
    coordinator.stop().await;

    let out = tempfile::tempdir().unwrap();
    workbook_has_native_charts(&result, out.path());
    let page = cdg_coordinator::report::write(&result, Some(&study), out.path()).unwrap();
    let html = std::fs::read_to_string(&page).unwrap();
    // Self-contained: nothing to fetch, no script.
    for outside in ["<script", "https://", "url(", "@import", "<link"] {
        assert!(
            !html.contains(outside),
            "the report refers outside: {outside}"
        );
    }
    assert_eq!(
        html.matches("http://").count(),
        html.matches("xmlns=\"http://www.w3.org/2000/svg\"").count()
    );

    let profile = tempfile::tempdir().unwrap();
    let dom = open(browser, &page, profile.path(), &["--dump-dom"]).await;
    // The charts: a pyramid, trend lines, bars of a mean per filière, the index's lines.
    let charts: Vec<&str> = dom.split("<svg class=\"chart\"").skip(1).collect();
    assert!(charts.len() >= 4, "{} charts", charts.len());
    assert!(
        charts
            .iter()
            .all(|c| c.contains("class=\"bar") || c.contains("class=\"line\""))
    );
    assert!(dom.contains("Femmes") && dom.contains("Hommes"));
    assert!(
        dom.contains(&result.digest),
        "the provenance gives the digest"
    );
    let director = Principal::new(Role::Director, Cdg::Aisne).uri();
    assert!(
        dom.contains(&director),
        "and the approving director, {director}"
    );
    // Every figure of every table is the result's; every withheld cell is marked.
    let mut figures = 0;
    let mut marked = 0;
    for q in tables(&result) {
        let batch = query_batch(q).unwrap();
        for (m, lo, hi) in measure_columns(&batch.schema()) {
            let p = pivot(&batch, m, (lo, hi));
            let page_cells = cells(&dom, &q.name, &p.measure);
            assert_eq!(
                page_cells.len(),
                p.rows.len() * p.columns.len(),
                "{}",
                q.name
            );
            for (key, row) in &p.rows {
                for (column, cell) in p.columns.iter().zip(row) {
                    let mut cle = vec![column.clone()];
                    cle.extend(key.iter().cloned());
                    let cle = cle.join("|");
                    let (_, class, value, text) = page_cells
                        .iter()
                        .find(|c| c.0 == cle)
                        .unwrap_or_else(|| panic!("{cle}"));
                    match cell.mark {
                        Mark::Released => {
                            let v = cell.value.unwrap();
                            assert_eq!(*value, Some(v), "{} {cle}", q.name);
                            assert_eq!(*text, number(v, p.integer), "{} {cle}", q.name);
                            figures += 1;
                        }
                        Mark::Secret => {
                            assert!(class.contains("secret") && text == "s" && value.is_none());
                            marked += 1;
                        }
                        Mark::Bounded => {
                            assert!(class.contains("bounded") && value.is_none(), "{cle}");
                            assert!(
                                text.starts_with('[')
                                    || text.starts_with('≥')
                                    || text.starts_with('≤')
                            );
                            marked += 1;
                        }
                        _ => assert!(value.is_none() || cell.mark == Mark::Partial),
                    }
                }
            }
        }
    }
    assert!(figures > 30, "{figures} figures checked");
    // A study of one département has no regional column: it would only repeat the département.
    assert!(
        !dom.contains(">Hauts-de-France</th>"),
        "a departmental study has no regional row"
    );
    assert!(
        marked > 0,
        "a small node withholds some cells of the pyramid"
    );

    // A screenshot: drawn, far from a blank page of the same size.
    let screenshot = |page: std::path::PathBuf, name: &str| {
        let shot = out.path().join(name);
        let arg = format!("--screenshot={}", shot.display());
        let profile = profile.path().to_path_buf();
        async move {
            open(browser, &page, &profile, &["--window-size=1000,3000", &arg]).await;
            shot
        }
    };
    let blank = out.path().join("blank.html");
    std::fs::write(&blank, "<!DOCTYPE html><html><body></body></html>").unwrap();
    let shot = screenshot(page.clone(), "rapport.png").await;
    let blank_shot = screenshot(blank, "blank.png").await;
    let (drawn, empty) = (
        std::fs::metadata(&shot).unwrap().len(),
        std::fs::metadata(&blank_shot).unwrap().len(),
    );
    assert!(
        drawn > 5 * empty.max(1000),
        "screenshot {drawn} bytes, blank {empty}"
    );
}

/// The XLSX export of the same result: a native chart per table the report charts, each drawn
/// from its own sheet, and the regional values beside the rows.
fn workbook_has_native_charts(result: &cdg_shared::proto::v1::StudyResult, dir: &Path) {
    use calamine::Reader;
    use std::io::Read;
    let files =
        cdg_coordinator::export::write_all(result, dir, cdg_coordinator::export::Format::Xlsx)
            .unwrap();
    let file = std::fs::File::open(&files[0]).unwrap();
    let mut archive = zip::ZipArchive::new(file).unwrap();
    let names: Vec<String> = archive
        .file_names()
        .map(|n| n.unwrap().to_string())
        .collect();
    let mut charts: Vec<String> = names
        .iter()
        .filter(|n| n.starts_with("xl/charts/chart") && n.ends_with(".xml"))
        .cloned()
        .collect();
    charts.sort();
    // The pyramid, the trend by catégorie, the bars of the mean per filière, the index.
    assert!(charts.len() >= 4, "{names:?}");
    let mut kinds = Vec::new();
    for c in &charts {
        let mut xml = String::new();
        archive
            .by_name(c)
            .unwrap()
            .read_to_string(&mut xml)
            .unwrap();
        if xml.contains("<c:barChart>") {
            kinds.push("bar");
        } else if xml.contains("<c:lineChart>") {
            kinds.push("line");
        }
        assert!(xml.contains("<c:f>"), "a chart drawn from cells: {c}");
    }
    assert!(
        kinds.contains(&"bar") && kinds.contains(&"line"),
        "{kinds:?}"
    );
    let mut book: calamine::Xlsx<_> = calamine::open_workbook(&files[0]).unwrap();
    let sheet = book.worksheet_range("pyramide").unwrap();
    let texts: Vec<String> = sheet.cells().map(|(_, _, c)| c.to_string()).collect();
    for label in ["Pyramide des âges", "Femmes", "Hommes"] {
        assert!(texts.iter().any(|t| t == label), "{label}: {texts:?}");
    }
}
