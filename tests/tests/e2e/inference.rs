//! Inference attacks on a running node over mutual TLS, with targets planted in the synthetic
//! data: one agent removed between two sums (a planted high pay), trackers and margins around
//! small cells, a group that all shares a sensitive attribute, one employer dominating a sum.

use std::collections::BTreeMap;
use std::path::Path;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Float64Type, Int64Type};
use cdg_node::config::NodeConfig;
use cdg_shared::arrow_ipc;
use cdg_shared::cdg::Cdg;
use cdg_shared::identity::{Principal, Role};
use cdg_shared::proto::v1::{Aggregate, Measure};
use cdg_shared::query::RELEASED;
use cdg_tests::{
    FIRST_YEAR, LAST_YEAR, answer, count_by, filter, one_node, query, read_agents, with_filters,
    year_filter,
};

/// One row of an answer: its dimension values, `diffusion`, and measures (None if withheld).
struct Row {
    dims: Vec<String>,
    status: String,
    values: Vec<Option<f64>>,
}

fn rows(ipc: &[u8], dims: &[&str], measures: &[&str]) -> Vec<Row> {
    let (_, batches) = arrow_ipc::decode(ipc).unwrap();
    let b: &RecordBatch = &batches[0];
    let text = |name: &str, r: usize| {
        b.column_by_name(name)
            .unwrap_or_else(|| panic!("column {name}"))
            .as_string::<i32>()
            .value(r)
            .to_string()
    };
    let value = |name: &str, r: usize| {
        let c = b.column_by_name(name).unwrap_or_else(|| panic!("{name}"));
        if c.is_null(r) {
            None
        } else if let Some(ints) = c.as_primitive_opt::<Int64Type>() {
            Some(ints.value(r) as f64)
        } else {
            Some(c.as_primitive::<Float64Type>().value(r))
        }
    };
    (0..b.num_rows())
        .map(|r| Row {
            dims: dims.iter().map(|d| text(d, r)).collect(),
            status: text("diffusion", r),
            values: measures.iter().map(|m| value(m, r)).collect(),
        })
        .collect()
}

fn measure(aggregate: Aggregate, column: &str) -> Measure {
    Measure {
        aggregate: aggregate as i32,
        column: column.into(),
    }
}

fn import(
    config: &NodeConfig,
    dataset: &'static cdg_node::catalogue::Dataset,
    year: i32,
    path: &Path,
) {
    let store = cdg_node::store::Store::open(&config.database).unwrap();
    cdg_node::ingest::import_file(&store, dataset, year, path, &Default::default())
        .unwrap_or_else(|e| panic!("importing {}: {e}", path.display()));
}

/// A CSV's header (column positions) and data lines.
fn read_csv(path: &Path) -> (BTreeMap<String, usize>, String, Vec<String>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header = lines
        .next()
        .unwrap()
        .trim_start_matches('\u{feff}')
        .to_string();
    let columns = header
        .split(';')
        .enumerate()
        .map(|(i, c)| (c.to_string(), i))
        .collect();
    (columns, header, lines.map(str::to_string).collect())
}

fn write_csv(path: &Path, header: &str, lines: &[String]) {
    let mut text = format!("{header}\r\n");
    for l in lines {
        text.push_str(l);
        text.push_str("\r\n");
    }
    std::fs::write(path, text).unwrap();
}

/// The group of an agent row for the pay attack: (filière, catégorie, statut).
type Group = (String, String, String);

/// In the last year, one agent of each (filière, catégorie, statut) group of at least 12 gets a
/// planted pay; the year before becomes the last year's rows without those agents. Returns
/// each group's planted pay.
fn plant_pays(config: &NodeConfig, csv_dir: &Path) -> BTreeMap<Group, f64> {
    let agents_path = csv_dir.join(format!("agents_{LAST_YEAR}.csv"));
    let (col, header, mut lines) = read_csv(&agents_path);
    let group_of = |l: &str| {
        let f: Vec<&str> = l.split(';').collect();
        (
            f[col["filiere"]].to_string(),
            f[col["categorie"]].to_string(),
            f[col["statut"]].to_string(),
        )
    };
    let mut sizes: BTreeMap<Group, usize> = BTreeMap::new();
    for l in &lines {
        *sizes.entry(group_of(l)).or_default() += 1;
    }
    let mut planted = BTreeMap::new();
    let mut targets = Vec::new();
    for (i, line) in lines.iter_mut().enumerate() {
        let group = group_of(line);
        if sizes[&group] < 12 || planted.contains_key(&group) {
            continue;
        }
        // A director's pay: well above the group's, different for every target.
        let pay = 70_000.0 + 731.0 * planted.len() as f64;
        let mut f: Vec<String> = line.split(';').map(str::to_string).collect();
        f[col["remuneration_brute_annuelle"]] = format!("{pay:.2}").replace('.', ",");
        *line = f.join(";");
        planted.insert(group, pay);
        targets.push(i);
    }
    write_csv(&agents_path, &header, &lines);
    // The year before: the same employers, the same agents but the targets.
    let previous = |line: &str| format!("{FIRST_YEAR}{}", &line[4..]);
    let employers_path = csv_dir.join(format!("employeurs_{LAST_YEAR}.csv"));
    let (_, e_header, e_lines) = read_csv(&employers_path);
    let employers_before = csv_dir.join(format!("employeurs_{FIRST_YEAR}.csv"));
    let e_lines: Vec<String> = e_lines.iter().map(|l| previous(l)).collect();
    write_csv(&employers_before, &e_header, &e_lines);
    let agents_before = csv_dir.join(format!("agents_{FIRST_YEAR}.csv"));
    let before: Vec<String> = lines
        .iter()
        .enumerate()
        .filter(|(i, _)| !targets.contains(i))
        .map(|(_, l)| previous(l))
        .collect();
    write_csv(&agents_before, &header, &before);
    use cdg_node::catalogue::{AGENTS, EMPLOYEURS};
    import(config, &EMPLOYEURS, FIRST_YEAR, &employers_before);
    import(config, &AGENTS, FIRST_YEAR, &agents_before);
    import(config, &AGENTS, LAST_YEAR, &agents_path);
    planted
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_means_one_agent_apart_miss_the_planted_pay_by_10_percent_in_95_percent_of_trials() {
    // The largest CDG at a quarter of its size, for many groups (one trial each).
    let dir = tempfile::tempdir().unwrap();
    let pki = cdg_tests::pki(&dir.path().join("certs"));
    let (config, csv_dir) = cdg_tests::prepare_node_at_scale(dir.path(), &pki, Cdg::Nord, 0.25);
    let planted = plant_pays(&config, &csv_dir);
    let node = cdg_tests::start_node(config.clone()).await;
    let tls = cdg_tests::identity(&pki, Principal::new(Role::Coordinator, Cdg::Nord));
    let mut c = cdg_tests::node_client(&node.url(), &tls, Cdg::Nord)
        .await
        .unwrap();

    // The attacker knows the two years differ by one agent per group, and that the count times
    // the mean is the sum: the difference of the two sums is that agent's pay.
    let mut published: BTreeMap<(i32, Group), (f64, f64)> = BTreeMap::new();
    for statut in cdg_node::codes::STATUTS {
        for year in [FIRST_YEAR, LAST_YEAR] {
            let mut q = query("agents", &["filiere", "categorie"]);
            q.measures
                .push(measure(Aggregate::Mean, "remuneration_brute_annuelle"));
            let q = with_filters(
                q,
                vec![
                    filter("annee", &[&year.to_string()]),
                    filter("statut", &[statut]),
                ],
            );
            let ipc = c
                .execute(cdg_tests::approved(&pki, Cdg::Nord, q))
                .await
                .unwrap()
                .into_inner()
                .arrow_ipc;
            let measures = ["nombre", "moyenne_remuneration_brute_annuelle"];
            for r in rows(&ipc, &["filiere", "categorie"], &measures) {
                if let (Some(n), Some(mean)) = (r.values[0], r.values[1]) {
                    let group = (r.dims[0].clone(), r.dims[1].clone(), statut.to_string());
                    published.insert((year, group), (n, mean));
                }
            }
        }
    }
    let mut errors = Vec::new();
    for (group, pay) in &planted {
        let (Some(now), Some(then)) = (
            published.get(&(LAST_YEAR, group.clone())),
            published.get(&(FIRST_YEAR, group.clone())),
        ) else {
            continue; // withheld in a year (dominance, employers): nothing to subtract
        };
        let estimate = now.0 * now.1 - then.0 * then.1;
        errors.push((estimate - pay).abs() / pay);
    }
    let close = errors.iter().filter(|e| **e < 0.10).count();
    eprintln!(
        "{} trials of {} planted groups, {close} estimates within 10% of the pay",
        errors.len(),
        planted.len()
    );
    assert!(
        errors.len() >= 60,
        "only {} trials of {} planted groups",
        errors.len(),
        planted.len()
    );
    assert!(
        close * 20 <= errors.len(),
        "{close} of {} estimates within 10% of the planted pay (errors: {errors:?})",
        errors.len()
    );
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn margins_and_trackers_leave_small_cells_blurred() {
    let n = one_node().await;
    let agents = read_agents(&n.csv_dir, LAST_YEAR);
    // The attacker asks a table and its margin, then subtracts the released cells from the
    // margin to get the withheld one (a tracker through group-by; filters are caught by the
    // complement rule, see attacks.rs).
    let tables: [(&[&str], &[&str]); 3] = [
        (&["filiere", "categorie"], &["filiere"]),
        (&["filiere", "sexe"], &["filiere"]),
        (&["categorie", "sexe", "filiere"], &["categorie", "sexe"]),
    ];
    let mut errors = Vec::new();
    for (fine, margin) in tables {
        let cells = rows(
            &answer(&n, with_filters(query("agents", fine), year_filter())).await,
            fine,
            &["nombre"],
        );
        let margins: BTreeMap<Vec<String>, Option<f64>> = rows(
            &answer(&n, with_filters(query("agents", margin), year_filter())).await,
            margin,
            &["nombre"],
        )
        .into_iter()
        .map(|r| (r.dims, r.values[0]))
        .collect();
        let truth = count_by(&agents, |a| {
            fine.iter()
                .map(|d| match *d {
                    "filiere" => a.filiere.clone(),
                    "categorie" => a.categorie.clone(),
                    _ => a.sexe.clone(),
                })
                .collect::<Vec<_>>()
        });
        for hidden in cells.iter().filter(|r| r.status != RELEASED) {
            let parent = hidden.dims[..margin.len()].to_vec();
            let siblings: Vec<&Row> = cells
                .iter()
                .filter(|r| r.dims[..margin.len()] == parent[..])
                .collect();
            // Only a margin with exactly one withheld cell gives it away by subtraction.
            if siblings.iter().filter(|r| r.status != RELEASED).count() != 1 {
                continue;
            }
            let Some(Some(total)) = margins.get(&parent) else {
                continue;
            };
            let released: f64 = siblings.iter().filter_map(|r| r.values[0]).sum();
            let estimate = total - released;
            // (A cell of 11 or more may be withheld too, its perturbed count being under 11.)
            let true_count = truth[&hidden.dims] as f64;
            if true_count < 11.0 {
                errors.push((estimate - true_count).abs());
            }
        }
    }
    assert!(
        errors.len() >= 5,
        "{} withheld cells to attack",
        errors.len()
    );
    let exact = errors.iter().filter(|e| **e == 0.0).count();
    let mean_error = errors.iter().sum::<f64>() / errors.len() as f64;
    // Every published cell carries its own noise: the subtraction adds them up, so the
    // estimate of a small cell is off by more than an agent on average and rarely exact.
    assert!(
        mean_error >= 1.0 && exact * 2 < errors.len(),
        "{exact} exact of {}, mean error {mean_error:.2}: {errors:?}",
        errors.len()
    );
}

/// Keeps, for the agents of catégorie A, only their `maladie ordinaire` absences: every
/// absent catégorie A agent shares that motif.
fn plant_a_whole_group(config: &NodeConfig, csv_dir: &Path) {
    let category_a: std::collections::BTreeSet<String> = read_agents(csv_dir, LAST_YEAR)
        .into_iter()
        .filter(|a| a.categorie == "A")
        .map(|a| a.agent_id)
        .collect();
    let path = csv_dir.join(format!("absences_{LAST_YEAR}.csv"));
    let (col, header, lines) = read_csv(&path);
    let kept: Vec<String> = lines
        .into_iter()
        .filter(|l| {
            let f: Vec<&str> = l.split(';').collect();
            !category_a.contains(f[col["agent_id"]])
                || f[col["motif_absence"]] == "maladie ordinaire"
        })
        .collect();
    write_csv(&path, &header, &kept);
    import(config, &cdg_node::catalogue::ABSENCES, LAST_YEAR, &path);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_sharing_a_sensitive_attribute_is_withheld_however_asked() {
    let n = one_node().await.restart(plant_a_whole_group).await;
    let status = |rows: &[Row], dims: &[&str]| {
        rows.iter()
            .find(|r| r.dims == dims)
            .map(|r| r.status.clone())
            .unwrap_or_else(|| panic!("no row {dims:?}"))
    };
    let whole = "secret: cellule 100%";
    // Grouped by motif: catégorie A has one motif only.
    let dims = ["categorie", "motif_absence"];
    let table = rows(
        &answer(&n, with_filters(query("absences", &dims), year_filter())).await,
        &dims,
        &[],
    );
    assert_eq!(status(&table, &["A", "maladie ordinaire"]), whole);
    assert_eq!(status(&table, &["C", "maladie ordinaire"]), RELEASED);
    // Filtered on the motif, by catégorie: A's cell holds its whole group.
    let mut filters = year_filter();
    filters.push(filter("motif_absence", &["maladie ordinaire"]));
    let by_category = rows(
        &answer(&n, with_filters(query("absences", &["categorie"]), filters)).await,
        &["categorie"],
        &[],
    );
    assert_eq!(status(&by_category, &["A"]), whole);
    assert_eq!(status(&by_category, &["C"]), RELEASED);
    // Filtered on every other motif: A has no row left, and its missing row would say so.
    let others: Vec<&str> = cdg_node::codes::MOTIFS_ABSENCE
        .iter()
        .copied()
        .filter(|m| *m != "maladie ordinaire")
        .collect();
    let mut filters = year_filter();
    filters.push(filter("motif_absence", &others));
    let by_category = rows(
        &answer(&n, with_filters(query("absences", &["categorie"]), filters)).await,
        &["categorie"],
        &["nombre"],
    );
    let a = by_category
        .iter()
        .find(|r| r.dims == ["A"])
        .expect("a row for A");
    assert_eq!((a.status.as_str(), a.values[0]), ("secret: seuil", None));
}

/// Replaces the year's `autre` absences: 12 agents of one employer off 30 days each, and one
/// agent off one day at each of two other employers.
fn plant_a_dominant_employer(config: &NodeConfig, csv_dir: &Path) {
    let (col, _, agents) = read_csv(&csv_dir.join(format!("agents_{LAST_YEAR}.csv")));
    let mut by_employer: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for l in &agents {
        let f: Vec<&str> = l.split(';').collect();
        by_employer
            .entry(f[col["employeur_id"]].to_string())
            .or_default()
            .push(f[col["agent_id"]].to_string());
    }
    let big = by_employer
        .iter()
        .find(|(_, a)| a.len() >= 12)
        .map(|(e, a)| (e.clone(), a[..12].to_vec()))
        .expect("an employer with 12 agents");
    let path = csv_dir.join(format!("absences_{LAST_YEAR}.csv"));
    let (col, header, lines) = read_csv(&path);
    let mut kept: Vec<String> = lines
        .into_iter()
        .filter(|l| l.split(';').nth(col["motif_absence"]) != Some("autre"))
        .collect();
    for agent in &big.1 {
        kept.push(format!("{LAST_YEAR};{agent};{};autre;1;30", big.0));
    }
    for (employer, agents) in by_employer.iter().filter(|(e, _)| **e != big.0).take(2) {
        kept.push(format!("{LAST_YEAR};{};{employer};autre;1;1", agents[0]));
    }
    write_csv(&path, &header, &kept);
    import(config, &cdg_node::catalogue::ABSENCES, LAST_YEAR, &path);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_employer_holding_most_of_a_sum_keeps_it_secret() {
    let n = one_node().await.restart(plant_a_dominant_employer).await;
    let mut filters = year_filter();
    filters.push(filter("motif_absence", &["autre", "maladie ordinaire"]));
    let mut q = with_filters(query("absences", &["motif_absence"]), filters);
    let autre = |rows: Vec<Row>| {
        rows.into_iter()
            .find(|r| r.dims == ["autre"])
            .expect("an autre row")
    };
    // 14 agents and 3 employers: the count is released...
    let counted = autre(rows(&answer(&n, q.clone()).await, &["motif_absence"], &[]));
    assert_eq!(counted.status, RELEASED);
    // ...but one employer holds 360 of the 362 days, and would learn the other two's.
    q.measures
        .push(measure(Aggregate::Sum, "jours_calendaires"));
    let summed = autre(rows(
        &answer(&n, q).await,
        &["motif_absence"],
        &["somme_jours_calendaires"],
    ));
    assert_eq!(
        (summed.status.as_str(), summed.values[0]),
        ("secret: dominance employeur", None)
    );
}
