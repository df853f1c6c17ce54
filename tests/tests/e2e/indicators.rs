//! Indicators computed by a running coordinator from a real node's answers: each equals the
//! figure computed here from the released cells of the study's own tables, and none is a point
//! where an input is withheld.

use std::collections::HashMap;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Float64Type, Int64Type};
use cdg_coordinator::indicators::BOUNDED;
use cdg_coordinator::output::query_batch;
use cdg_shared::cdg::Cdg;
use cdg_shared::identity::{Principal, Role};
use cdg_shared::query::{DIFFUSION_COLUMN, RELEASED};
use cdg_tests::{LAST_YEAR, identity, one_node, start_coordinator};

/// Per (département, dimension values): (diffusion, value) of `column`.
fn cells(
    batch: &RecordBatch,
    dims: &[&str],
    column: &str,
) -> HashMap<Vec<String>, (String, Option<f64>)> {
    let text = |name: &str, r: usize| {
        batch
            .column_by_name(name)
            .unwrap()
            .as_string::<i32>()
            .value(r)
            .to_string()
    };
    let values = batch.column_by_name(column).unwrap();
    (0..batch.num_rows())
        .map(|r| {
            let mut key = vec![text("departement", r)];
            key.extend(dims.iter().map(|d| text(d, r)));
            let value = values.is_valid(r).then(|| {
                values
                    .as_primitive_opt::<Int64Type>()
                    .map(|a| a.value(r) as f64)
                    .unwrap_or_else(|| values.as_primitive::<Float64Type>().value(r))
            });
            (key, (text(DIFFUSION_COLUMN, r), value))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn indicators_are_computed_from_released_cells_only() {
    let n = one_node().await;
    let coordinator =
        start_coordinator(n.dir.path(), &n.pki, &[(Cdg::Aisne, n.node.url())], 30).await;
    let me = identity(&n.pki, Principal::new(Role::ChargeDeMission, Cdg::Nord));
    let mut client = cdg_tests::coordinator_client(&coordinator.url(), &me).await;
    let study = format!(
        r#"title = "Indicateurs"
purpose = "tests"
diffusion = "interne"
departements = ["02"]

[[query]]
name = "absences"
dataset = "absences"
group_by = ["categorie"]
measures = ["sum(jours_calendaires)"]
filters = {{ annee = {LAST_YEAR} }}

[[query]]
name = "effectifs"
dataset = "agents"
group_by = ["categorie"]
measures = ["count"]
filters = {{ annee = {LAST_YEAR} }}

[[query]]
name = "fins"
dataset = "agents"
group_by = ["filiere", "tranche_age"]
measures = ["count"]
filters = {{ annee = {LAST_YEAR}, categorie = "A" }}

[[indicator]]
name = "jours_par_agent"
kind = "rate"
numerator = "absences.sum(jours_calendaires)"
denominator = "effectifs.count"

[[indicator]]
name = "part"
kind = "share"
of = "fins.count"
within = ["filiere"]
"#
    );
    let id = client.submit(study).await.unwrap().study_id;
    cdg_tests::approve_as_directors(&coordinator.url(), &n.pki, &id, &[Cdg::Aisne]).await;
    let result = client.run(&id).await.unwrap();
    assert_eq!(result.indicators.len(), 2);
    let table = |name: &str| {
        let q = cdg_coordinator::output::tables(&result)
            .find(|q| q.name == name)
            .unwrap();
        query_batch(q).unwrap()
    };

    // The rate: days over agents, per catégorie, for Aisne and the region.
    let absences = cells(
        &table("absences"),
        &["categorie"],
        "somme_jours_calendaires",
    );
    let effectifs = cells(&table("effectifs"), &["categorie"], "nombre");
    let rate = table("jours_par_agent");
    let figures = cells(&rate, &["categorie"], "jours_par_agent");
    let noise = cells(&rate, &["categorie"], "jours_par_agent_marge_bruit");
    assert_eq!(figures.len(), absences.len());
    let mut exact = 0;
    for (key, (status, value)) in &figures {
        let (top_status, top) = &absences[key];
        let (bottom_status, bottom) = &effectifs[key];
        if top_status == RELEASED && bottom_status == RELEASED {
            let expected = top.unwrap() / bottom.unwrap();
            assert_eq!(status, RELEASED, "{key:?}");
            assert!(
                (value.unwrap() - expected).abs() < 1e-9,
                "{key:?}: {value:?} vs {expected}"
            );
            // The node's noise (±4 on the count, 3 × 365 days on the sum) moves it by more
            // than nothing.
            assert!(noise[key].1.unwrap() > 0.0, "{key:?}");
            exact += 1;
        } else {
            assert!(value.is_none(), "{key:?}: computed from a withheld cell");
        }
    }
    assert!(
        exact >= 3,
        "catégories A, B and C are large enough: {figures:?}"
    );

    // The share: cells of catégorie A by filière and age band, where small cells are
    // withheld: their shares are intervals, never points.
    let fins = cells(&table("fins"), &["filiere", "tranche_age"], "nombre");
    let share = table("part");
    let shares = cells(&share, &["filiere", "tranche_age"], "part");
    let low = cells(&share, &["filiere", "tranche_age"], "part_borne_basse");
    let high = cells(&share, &["filiere", "tranche_age"], "part_borne_haute");
    let mut bounded = 0;
    for (key, (status, value)) in &shares {
        // The cells of the same département and filière.
        let group: Vec<_> = fins
            .iter()
            .filter(|(k, _)| k[0] == key[0] && k[1] == key[1])
            .collect();
        if group.iter().all(|(_, (s, _))| s == RELEASED) {
            let total: f64 = group.iter().map(|(_, (_, v))| v.unwrap()).sum();
            let expected = 100.0 * fins[key].1.unwrap() / total;
            assert!((value.unwrap() - expected).abs() < 1e-9, "{key:?}");
        } else {
            assert!(value.is_none(), "{key:?}: a share over a withheld cell");
            assert!(status.starts_with(BOUNDED), "{key:?}: {status}");
            let (lo, hi) = (low[key].1.unwrap(), high[key].1.unwrap());
            assert!(
                (0.0..=hi).contains(&lo) && hi <= 100.0,
                "{key:?}: [{lo}, {hi}]"
            );
            bounded += 1;
        }
    }
    assert!(
        bounded > 0,
        "some cells of catégorie A by filière and age are withheld"
    );
    coordinator.stop().await;
}
