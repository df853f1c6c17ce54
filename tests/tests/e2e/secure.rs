//! Secure aggregation against real nodes over mTLS: what the coordinator receives is masked,
//! only the sum over a cell's participants reads back, and a node refuses forged, replayed or
//! ill-formed rounds (`node/DISCLOSURE.md`, "Secure aggregation").

use std::collections::BTreeMap;

use arrow::array::{Array, AsArray};
use cdg_coordinator::output::query_batch;
use cdg_coordinator::secure::SECURE;
use cdg_shared::cdg::Cdg;
use cdg_shared::identity::{Principal, Role};
use cdg_shared::proto::PROTOCOL_VERSION;
use cdg_shared::proto::v1::node_outcome::Status as OutcomeStatus;
use cdg_shared::proto::v1::{
    self, KeyOffer, SecureCell, SecureSumContributeRequest, SecureSumOfferRequest, SecureSumScope,
};
use cdg_shared::query::{
    AggregateQuery, DEPARTEMENT_COLUMN, DIFFUSION_COLUMN, Diffusion, REGION, RELEASED,
};
use cdg_shared::secure_sum::layout::{self, CellSums};
use cdg_shared::study::{Study, StudyQuery};
use cdg_tests::relay::{Leaves, leaving_node};
use cdg_tests::{
    LAST_YEAR, approval, coordinator_client, count_by, identity, node_client, pki, prepare_node,
    read_agents, start_coordinator, start_node, year_filter,
};
use tonic::Code;

const PAIR: [Cdg; 2] = [Cdg::Aisne, Cdg::Somme];

/// Agents by filière, sex and age band in the last year: small cells in every département.
fn detail() -> v1::AggregateQuery {
    let mut q = cdg_tests::query("agents", &["filiere", "sexe", "tranche_age"]);
    q.filters = year_filter();
    q
}

fn study(q: &v1::AggregateQuery) -> Study {
    study_of(q, &PAIR)
}

fn study_of(q: &v1::AggregateQuery, departements: &[Cdg]) -> Study {
    Study {
        departements: departements.to_vec(),
        queries: vec![StudyQuery {
            name: "q".into(),
            title: "q".into(),
            query: AggregateQuery::try_from(q.clone()).unwrap(),
        }],
        ..cdg_tests::study_of(Cdg::Aisne, q).unwrap()
    }
}

fn scope(
    pki: &cdg_certs_dev::PkiLayout,
    study: &Study,
    q: &v1::AggregateQuery,
    cdg: Cdg,
    session: &[u8],
) -> SecureSumScope {
    scope_over(pki, study, q, cdg, session, &PAIR)
}

fn scope_over(
    pki: &cdg_certs_dev::PkiLayout,
    study: &Study,
    q: &v1::AggregateQuery,
    cdg: Cdg,
    session: &[u8],
    participants: &[Cdg],
) -> SecureSumScope {
    SecureSumScope {
        protocol_version: PROTOCOL_VERSION,
        query: Some(q.clone()),
        study_id: study.id(),
        query_name: "q".into(),
        study: study.canonical(),
        approvals: vec![approval(pki, Principal::new(Role::Director, cdg), study)],
        session: session.to_vec(),
        participants: participants.iter().map(|c| c.code().to_string()).collect(),
    }
}

/// The distance between two numbers modulo 2⁶⁴.
fn distance(a: u64, b: u64) -> u64 {
    a.wrapping_sub(b).min(b.wrapping_sub(a))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_coordinator_receives_masked_cells_whose_sum_alone_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(&dir.path().join("certs"));
    let mut nodes = BTreeMap::new();
    let mut truth = BTreeMap::new();
    for cdg in PAIR {
        let (config, csv) = prepare_node(dir.path(), &pki, cdg);
        let agents = read_agents(&csv, LAST_YEAR);
        truth.insert(
            cdg,
            count_by(&agents, |r| {
                vec![
                    r.filiere.clone(),
                    r.sexe.clone(),
                    cdg_node::codes::tranche_age(r.annee - r.annee_naissance).to_string(),
                ]
            }),
        );
        nodes.insert(cdg, start_node(config).await);
    }
    let coordinator = identity(&pki, Principal::new(Role::Coordinator, Cdg::Nord));
    let mut clients = BTreeMap::new();
    for (cdg, node) in &nodes {
        clients.insert(
            *cdg,
            node_client(&node.url(), &coordinator, *cdg).await.unwrap(),
        );
    }
    let q = detail();
    let study = study(&q);

    // Round one, as a run asks it: each node's table, its withheld cells named.
    let mut statuses: BTreeMap<Cdg, BTreeMap<Vec<String>, Diffusion>> = BTreeMap::new();
    for (cdg, client) in clients.iter_mut() {
        let mut request = cdg_tests::execute(q.clone());
        request.study = study.canonical();
        request.approvals = vec![approval(&pki, Principal::new(Role::Director, *cdg), &study)];
        let answer = client.execute(request).await.unwrap().into_inner();
        let (_, batches) = cdg_shared::arrow_ipc::decode(&answer.arrow_ipc).unwrap();
        let batch = &batches[0];
        let text = |c: usize, r: usize| batch.column(c).as_string::<i32>().value(r).to_string();
        statuses.insert(
            *cdg,
            (0..batch.num_rows())
                .map(|r| {
                    (
                        (0..3).map(|c| text(c, r)).collect(),
                        Diffusion::parse(&text(3, r)).unwrap(),
                    )
                })
                .collect(),
        );
    }
    let withheld = |cdg: Cdg, key: &Vec<String>| {
        statuses[&cdg]
            .get(key)
            .is_some_and(|s| !s.is_released() && *s != Diffusion::WholeGroup)
    };
    let both: Vec<Vec<String>> = statuses[&Cdg::Aisne]
        .keys()
        .filter(|k| withheld(Cdg::Aisne, k) && withheld(Cdg::Somme, k))
        .cloned()
        .collect();
    assert!(both.len() >= 5, "cells withheld in both: {both:?}");
    let released = statuses[&Cdg::Aisne]
        .iter()
        .find(|(_, s)| s.is_released())
        .map(|(k, _)| k.clone())
        .unwrap();
    let cells = |keys: &[Vec<String>]| -> Vec<SecureCell> {
        keys.iter()
            .map(|k| SecureCell {
                dimensions: k.clone(),
                participants: PAIR.iter().map(|c| c.code().to_string()).collect(),
            })
            .collect()
    };

    // Round two: offers, relayed; then each node's masked cells.
    let offer = |session: Vec<u8>| {
        let calls: Vec<_> = PAIR
            .iter()
            .map(|&cdg| {
                let mut c = clients[&cdg].clone();
                let s = scope(&pki, &study, &q, cdg, &session);
                async move {
                    c.secure_sum_offer(SecureSumOfferRequest { scope: Some(s) })
                        .await
                        .map(|r| r.into_inner().offers)
                }
            })
            .collect();
        async move {
            let mut results = Vec::new();
            for call in calls {
                results.push(call.await);
            }
            results
        }
    };
    let session = vec![1u8; 16];
    let offers: Vec<KeyOffer> = offer(session.clone())
        .await
        .into_iter()
        .flat_map(|r| r.unwrap())
        .collect();
    assert_eq!(offers.len(), 2, "one key per other participant");
    let for_node = |cdg: Cdg, offers: &[KeyOffer]| -> Vec<KeyOffer> {
        offers
            .iter()
            .filter(|o| o.to == cdg.code())
            .cloned()
            .collect()
    };
    let contribute = |cdg: Cdg, session: &[u8], asked: Vec<SecureCell>, offers: Vec<KeyOffer>| {
        let mut c = clients[&cdg].clone();
        let s = scope(&pki, &study, &q, cdg, session);
        async move {
            c.secure_sum_contribute(SecureSumContributeRequest {
                scope: Some(s),
                cells: asked,
                offers,
            })
            .await
        }
    };
    let width = layout::len(1);
    let mut sums = vec![vec![0u64; width]; both.len()];
    for cdg in PAIR {
        let response = contribute(cdg, &session, cells(&both), for_node(cdg, &offers))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(response.cells.len(), both.len());
        for ((masked, key), sum) in response.cells.iter().zip(&both).zip(&mut sums) {
            // Nothing the coordinator receives is near the node's true count.
            let units = truth[&cdg][key] as u64;
            for (i, v) in masked.values.iter().enumerate() {
                assert!(
                    distance(*v, units) > 1 << 32,
                    "CDG {cdg}, cell {key:?}, value {i}: {v} is near {units}"
                );
            }
            layout::add(sum, &masked.values);
        }
    }
    for (key, sum) in both.iter().zip(&sums) {
        let cell = CellSums::decode(sum, 1).unwrap();
        let expected: i64 = PAIR.iter().map(|c| truth[c][key]).sum();
        assert_eq!(cell.units as i64, expected, "{key:?}");
        assert_eq!(cell.measures[0].total as i64, expected, "{key:?}");
    }

    // The round is used up: replaying either step is refused.
    let replay = contribute(
        Cdg::Aisne,
        &session,
        cells(&both),
        for_node(Cdg::Aisne, &offers),
    )
    .await
    .unwrap_err();
    assert_eq!(replay.code(), Code::PermissionDenied);
    assert!(
        replay.message().contains("no open round"),
        "{}",
        replay.message()
    );
    let again = offer(session.clone()).await;
    assert!(again.iter().all(|r| {
        r.as_ref()
            .is_err_and(|e| e.message().contains("already used"))
    }));

    // A new round each time, refused by CDG 02: the previous round's offers (a replay), a
    // forged key, a released cell, a cell of one participant.
    let refusal = async |round: u8, asked: Vec<SecureCell>, tamper: &dyn Fn(&mut Vec<KeyOffer>)| {
        let session = vec![round; 16];
        let fresh: Vec<KeyOffer> = offer(session.clone())
            .await
            .into_iter()
            .flat_map(|r| r.unwrap())
            .collect();
        let mut offers = for_node(Cdg::Aisne, &fresh);
        tamper(&mut offers);
        let e = contribute(Cdg::Aisne, &session, asked, offers)
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::PermissionDenied, "{}", e.message());
        e.message().to_string()
    };
    let replayed = for_node(Cdg::Aisne, &offers);
    let e = refusal(2, cells(&both), &|o| *o = replayed.clone()).await;
    assert!(e.contains("does not verify"), "{e}");
    let e = refusal(3, cells(&both), &|o| o[0].public_key[0] ^= 1).await;
    assert!(e.contains("does not verify"), "{e}");
    let e = refusal(4, cells(&[released]), &|_| {}).await;
    assert!(e.contains("released by this node"), "{e}");
    let mut alone = cells(&both[..1]);
    alone[0].participants = vec!["02".into()];
    let e = refusal(5, alone, &|_| {}).await;
    assert!(e.contains("at least two"), "{e}");

    // A coordinator that skips its own guard: the same cells summed over the two and the Oise
    // (in a study that asks it), less the sum over the two made above, would be the Oise's
    // cells. The node refuses before it agrees any key.
    let three = [Cdg::Aisne, Cdg::Oise, Cdg::Somme];
    let wider = study_of(&q, &three);
    let session = vec![7u8; 16];
    let mut aisne = clients[&Cdg::Aisne].clone();
    aisne
        .secure_sum_offer(SecureSumOfferRequest {
            scope: Some(scope_over(&pki, &wider, &q, Cdg::Aisne, &session, &three)),
        })
        .await
        .unwrap();
    let mut asked = cells(&both[..1]);
    asked[0].participants = three.iter().map(|c| c.code().to_string()).collect();
    let e = aisne
        .secure_sum_contribute(SecureSumContributeRequest {
            scope: Some(scope_over(&pki, &wider, &q, Cdg::Aisne, &session, &three)),
            cells: asked,
            offers: Vec::new(),
        })
        .await
        .unwrap_err();
    assert!(e.message().contains("summed before"), "{}", e.message());

    // Only the coordinator may open a round.
    let director = identity(&pki, Principal::new(Role::Director, Cdg::Aisne));
    let mut as_director = node_client(&nodes[&Cdg::Aisne].url(), &director, Cdg::Aisne)
        .await
        .unwrap();
    let e = as_director
        .secure_sum_offer(SecureSumOfferRequest {
            scope: Some(scope(&pki, &study, &q, Cdg::Aisne, &[6u8; 16])),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied, "{}", e.message());
}

/// A run whose node of CDG 80 leaves the second round at `leaves`: its outcome names it, the
/// coordinator's log records it, and no published sum contains its cells; the sums of the
/// others still are published.
async fn run_with_a_node_leaving(leaves: Leaves) {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(&dir.path().join("certs"));
    let cdgs = [Cdg::Aisne, Cdg::Oise, Cdg::Somme];
    let mut servers = Vec::new();
    let mut addresses = Vec::new();
    for cdg in cdgs {
        let node = start_node(prepare_node(dir.path(), &pki, cdg).0).await;
        let url = if cdg == Cdg::Somme {
            let relay = leaving_node(&pki, cdg, &node.url(), leaves).await;
            let url = relay.url();
            servers.push(relay);
            url
        } else {
            node.url()
        };
        addresses.push((cdg, url));
        servers.push(node);
    }
    let coordinator = start_coordinator(dir.path(), &pki, &addresses, 30).await;
    let me = identity(&pki, Principal::new(Role::ChargeDeMission, Cdg::Nord));
    let mut client = coordinator_client(&coordinator.url(), &me).await;
    let submitted = client
        .submit(crate::faults::study(&cdgs, None))
        .await
        .unwrap();
    cdg_tests::approve_as_directors(&coordinator.url(), &pki, &submitted.study_id, &cdgs).await;
    let result = client.run(&submitted.study_id).await.unwrap();

    let somme = crate::faults::outcome(&result, Cdg::Somme);
    assert_eq!(
        somme.status,
        OutcomeStatus::Answered as i32,
        "{}",
        somme.message
    );
    assert!(
        somme
            .secure_aggregation
            .contains("left the secure aggregation"),
        "{:?}",
        somme.secure_aggregation
    );
    let aisne = crate::faults::outcome(&result, Cdg::Aisne);
    assert!(
        aisne.secure_aggregation.contains("added, masked"),
        "{:?}",
        aisne.secure_aggregation
    );
    let log = cdg_tests::audit_log_text(&coordinator.url(), &pki).await;
    assert!(log.contains("secure_sum.incomplete"), "{log}");
    assert!(log.contains("secure_sum.released"), "{log}");

    let (mut secured, mut one_hidden) = (0, 0);
    for row in regional_rows(&result) {
        let somme = row.hidden.contains(&"80".to_string());
        if row.diffusion == SECURE {
            secured += 1;
            // Summed over the others only: 80's withheld cells never enter a sum.
            assert!(!somme, "{} {:?}: {:?}", row.query, row.key, row.hidden);
        } else if row.hidden.len() == 1 || somme {
            // One département withheld (or 80, which left): the row stays an interval.
            one_hidden += 1;
            assert!(!row.valued, "{} {:?}: a point", row.query, row.key);
        }
    }
    assert!(secured > 0, "the others' sums are published");
    assert!(one_hidden > 0);
    // The report marks such cells and its legend explains them; the workbook's legend is the
    // same text.
    let study =
        cdg_coordinator::study::Study::from_toml(&crate::faults::study(&cdgs, None)).unwrap();
    let html = cdg_coordinator::report::render(&result, Some(&study), "test").unwrap();
    assert!(html.contains("class=\"num secure\""), "no cell marked");
    assert!(html.contains("† = agrégation sécurisée"), "no legend");
    assert!(cdg_coordinator::output::LEGEND.contains("† = agrégation sécurisée"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_gone_between_the_two_rounds_is_named_and_left_out_of_every_sum() {
    run_with_a_node_leaving(Leaves::AtOffer).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_gone_during_the_second_round_is_named_and_left_out_of_every_sum() {
    run_with_a_node_leaving(Leaves::AtContribution).await;
}

/// One regional row of a result.
struct RegionalRow {
    query: String,
    key: Vec<String>,
    diffusion: String,
    /// Whether its first measure has a value.
    valued: bool,
    /// The départements that withheld the cell.
    hidden: Vec<String>,
}

fn regional_rows(result: &v1::StudyResult) -> Vec<RegionalRow> {
    let mut rows = Vec::new();
    for q in &result.queries {
        let batch = query_batch(q).unwrap();
        let schema = batch.schema();
        let dep = schema.index_of(DEPARTEMENT_COLUMN).unwrap();
        let diff = schema.index_of(DIFFUSION_COLUMN).unwrap();
        let text = |c: usize, r: usize| batch.column(c).as_string::<i32>().value(r).to_string();
        let key = |r: usize| (dep + 1..diff).map(|c| text(c, r)).collect::<Vec<_>>();
        for r in (0..batch.num_rows()).filter(|&r| text(dep, r) == REGION) {
            rows.push(RegionalRow {
                query: q.name.clone(),
                key: key(r),
                diffusion: text(diff, r),
                valued: batch.column(diff + 1).is_valid(r),
                hidden: (0..batch.num_rows())
                    .filter(|&o| text(dep, o) != REGION && key(o) == key(r))
                    .filter(|&o| text(diff, o) != RELEASED)
                    .map(|o| text(dep, o))
                    .collect(),
            });
        }
    }
    rows
}

/// The regional rows summed securely, with the départements each summed, by query and cell.
fn secured_rows(result: &v1::StudyResult) -> BTreeMap<(String, Vec<String>), Vec<String>> {
    regional_rows(result)
        .into_iter()
        .filter(|r| r.diffusion == SECURE)
        .map(|r| ((r.query, r.key), r.hidden))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_study_without_one_departement_cannot_difference_a_secure_sum() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(&dir.path().join("certs"));
    let cdgs = [Cdg::Aisne, Cdg::Oise, Cdg::Somme];
    let mut servers = Vec::new();
    for cdg in cdgs {
        servers.push((cdg, start_node(prepare_node(dir.path(), &pki, cdg).0).await));
    }
    let addresses: Vec<(Cdg, String)> = servers.iter().map(|(c, s)| (*c, s.url())).collect();
    let coordinator = start_coordinator(dir.path(), &pki, &addresses, 30).await;
    let me = identity(&pki, Principal::new(Role::ChargeDeMission, Cdg::Nord));
    let mut client = coordinator_client(&coordinator.url(), &me).await;
    let mut run = async |asked: &[Cdg]| {
        let submitted = client
            .submit(crate::faults::study(asked, None))
            .await
            .unwrap();
        cdg_tests::approve_as_directors(&coordinator.url(), &pki, &submitted.study_id, asked).await;
        client.run(&submitted.study_id).await.unwrap()
    };
    let all = secured_rows(&run(&cdgs).await);
    let three: Vec<_> = all.iter().filter(|(_, h)| h.len() == 3).collect();
    assert!(
        !three.is_empty(),
        "some cells are summed over the three: {all:?}"
    );
    // Without the Somme: the same cells, withheld by the two others, would give the Somme's
    // cell as the difference of two published sums. They stay intervals.
    let without = run(&cdgs[..2]).await;
    let two = secured_rows(&without);
    for (cell, _) in &three {
        assert!(
            !two.contains_key(cell),
            "{cell:?} published over all three and over two"
        );
    }
    let log = cdg_tests::audit_log_text(&coordinator.url(), &pki).await;
    assert!(log.contains("différenciation"), "{log}");
    // Run again as at first: the same sums, published again (nothing new to subtract).
    let again = secured_rows(&run(&cdgs).await);
    assert_eq!(
        again.keys().collect::<Vec<_>>(),
        all.keys().collect::<Vec<_>>()
    );
}
