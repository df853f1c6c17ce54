//! A node's answer as the coordinator takes it: the Arrow IPC bytes decoded into the schema
//! the query calls for, then merged into the regional table with what the node published.

use cdg_coordinator::bounds::Published;
use cdg_coordinator::fanout::decode_answer;
use cdg_coordinator::merge::{Answer, merge};
use cdg_shared::cdg::Cdg;
use cdg_shared::proto::v1;
use cdg_shared::query::AggregateQuery;
use prost::Message;

/// The query the fuzzed answers claim to answer: counts and a mean by two dimensions.
fn query() -> AggregateQuery {
    let measure = |aggregate: v1::Aggregate, column: &str| v1::Measure {
        aggregate: aggregate as i32,
        column: column.into(),
    };
    AggregateQuery::try_from(v1::AggregateQuery {
        dataset: "agents".into(),
        group_by: vec!["sexe".into(), "categorie".into()],
        measures: vec![
            measure(v1::Aggregate::Count, ""),
            measure(v1::Aggregate::Mean, "etpr"),
        ],
        filters: vec![],
    })
    .unwrap_or_else(|e| panic!("the fuzz targets' own query is invalid: {e}"))
}

/// Decodes `arrow_ipc` as the answer of one département and merges it with `published`.
fn take(arrow_ipc: &[u8], published: &Published) {
    let query = query();
    let Ok(batch) = decode_answer(&query, Cdg::Aisne, arrow_ipc) else {
        return;
    };
    // Decoded answers are checked: the merge takes them as they are.
    let answers = [Answer {
        cdg: Cdg::Aisne,
        batch: &batch,
        published,
    }];
    let _ = merge(
        &query,
        &answers,
        &[Cdg::Nord],
        true,
        &std::collections::BTreeMap::new(),
    );
}

/// Raw Arrow IPC bytes as a node's answer.
pub fn node_answer(data: &[u8]) {
    take(data, &Published::default());
}

/// A whole `ExecuteResponse` (Arrow bytes, published bounds and ranges) as a node sends it.
pub fn node_response(data: &[u8]) {
    let Ok(response) = v1::ExecuteResponse::decode(data) else {
        return;
    };
    let published = Published {
        secret_bounds: response.secret_bounds,
        measure_ranges: response.measure_ranges,
        noise: response.noise,
    };
    take(&response.arrow_ipc, &published);
}
