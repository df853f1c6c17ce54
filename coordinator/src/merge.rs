//! The regional merge: the nodes' tables stacked with a `departement` column, plus regional rows.
//!
//! Regional values are computed from released département cells only. When some département's
//! cell is withheld, the regional value is null and the row gives its bounds instead
//! (`bounds.rs`), computed from the withholding node's public bounds: subtracting the published
//! départements from them gives back those public bounds, never the hidden value. Every measure
//! has a lower and an upper bound column; for a released cell both equal the value.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, Float64Array, Float64Builder, Int64Array, Int64Builder, RecordBatch,
    StringArray, StringBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use cdg_shared::cdg::Cdg;
use cdg_shared::query::{
    Aggregate, AggregateQuery, DEPARTEMENT_COLUMN, REGION, RELEASED, natural_order_all,
};

use crate::bounds::{Accumulator, Interval, Published};
use crate::secure::{Aggregated, SECURE};

/// `diffusion` of a regional cell where every département's cell is suppressed.
pub const REGION_SECRET: &str = "secret";
/// Suffixes of the bound columns of a measure.
pub const LOWER: &str = "_borne_basse";
pub const UPPER: &str = "_borne_haute";

#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("CDG {cdg} answered with columns [{found}], expected [{expected}]")]
    Schema {
        cdg: Cdg,
        found: String,
        expected: String,
    },
    #[error("building the regional table: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
}

fn field_list(schema: &Schema) -> String {
    schema
        .fields()
        .iter()
        .map(|f| format!("{}: {}", f.name(), f.data_type()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A node's batch whose columns are the ones its query calls for. The only way to one is the
/// check ([`Checked::new`], or the decoding of a node's answer, which checks its schema before
/// putting its batches together), so the merge reads columns it knows are there and the schema
/// is checked once per answer.
#[derive(Debug, Clone)]
pub struct Checked(RecordBatch);

impl Checked {
    /// Checks `batch`, the answer of the node of `cdg`, against `query`'s schema.
    pub fn new(
        query: &AggregateQuery,
        cdg: Cdg,
        batch: RecordBatch,
    ) -> Result<Checked, MergeError> {
        check_fields(query, cdg, &batch.schema())?;
        Ok(Checked(batch))
    }

    /// A batch whose schema [`check_fields`] has accepted.
    pub(crate) fn of_checked_schema(batch: RecordBatch) -> Checked {
        Checked(batch)
    }

    pub fn batch(&self) -> &RecordBatch {
        &self.0
    }
}

/// Checks the schema of a node's answer against the one the query calls for: the same columns,
/// named and typed alike, in the same order.
pub fn check_fields(query: &AggregateQuery, cdg: Cdg, found: &Schema) -> Result<(), MergeError> {
    let expected = query.result_schema();
    let same = expected.fields().len() == found.fields().len()
        && expected
            .fields()
            .iter()
            .zip(found.fields())
            .all(|(a, b)| a.name() == b.name() && a.data_type() == b.data_type());
    if same {
        Ok(())
    } else {
        Err(MergeError::Schema {
            cdg,
            // A node's column names may be of any length.
            found: cdg_shared::text::bounded(&field_list(found), 512).into_owned(),
            expected: field_list(&expected),
        })
    }
}

/// One node's answer to a query.
pub struct Answer<'a> {
    pub cdg: Cdg,
    pub batch: &'a Checked,
    pub published: &'a Published,
}

struct Row {
    departement: String,
    dims: Vec<String>,
    diffusion: String,
    values: Vec<Option<f64>>,
    bounds: Vec<Interval>,
}

fn read_rows(query: &AggregateQuery, answer: &Answer) -> Vec<Row> {
    let batch = answer.batch.batch();
    let dims = query.group_by.len();
    let text = |i: usize| {
        batch
            .column(i)
            .as_any()
            .downcast_ref::<StringArray>()
            .cloned()
    };
    let dim_cols: Vec<StringArray> = (0..dims).filter_map(text).collect();
    let diffusion = text(dims).unwrap_or_else(|| StringArray::from(Vec::<&str>::new()));
    let measures: Vec<Vec<Option<f64>>> = query
        .measures
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let col = batch.column(dims + 1 + i);
            if m.aggregate == Aggregate::Count {
                let a = col.as_any().downcast_ref::<Int64Array>();
                (0..batch.num_rows())
                    .map(|r| a.filter(|a| a.is_valid(r)).map(|a| a.value(r) as f64))
                    .collect()
            } else {
                let a = col.as_any().downcast_ref::<Float64Array>();
                (0..batch.num_rows())
                    .map(|r| a.filter(|a| a.is_valid(r)).map(|a| a.value(r)))
                    .collect()
            }
        })
        .collect();
    (0..batch.num_rows())
        .map(|r| {
            let status = diffusion.value(r).to_string();
            let values: Vec<Option<f64>> = measures.iter().map(|m| m[r]).collect();
            // A département's own cell: its value, or what its node says of withheld cells.
            let mut cells =
                accumulate(query, std::iter::once((&status, &values, answer.published)));
            let (values, bounds) = cells.iter_mut().map(|(a, agg)| a.finish(*agg)).unzip();
            Row {
                departement: answer.cdg.code().to_string(),
                dims: dim_cols.iter().map(|c| c.value(r).to_string()).collect(),
                diffusion: status,
                values,
                bounds,
            }
        })
        .collect()
}

/// Accumulates cells of one group: released values, or the bounds of withheld ones.
fn accumulate<'a>(
    query: &AggregateQuery,
    cells: impl Iterator<Item = (&'a String, &'a Vec<Option<f64>>, &'a Published)>,
) -> Vec<(Accumulator, Aggregate)> {
    let count_index = query
        .measures
        .iter()
        .position(|m| m.aggregate == Aggregate::Count);
    let mut acc: Vec<(Accumulator, Aggregate)> = query
        .measures
        .iter()
        .map(|m| (Accumulator::default(), m.aggregate))
        .collect();
    for (status, values, published) in cells {
        if status == RELEASED {
            let weight = count_index.and_then(|i| values[i]).unwrap_or(0.0);
            for ((a, agg), v) in acc.iter_mut().zip(values) {
                a.released(v.unwrap_or(0.0), weight, *agg);
            }
        } else {
            let rows = published.rows(status);
            for ((a, _), m) in acc.iter_mut().zip(&query.measures) {
                a.withheld(rows, published.range(&m.column));
            }
        }
    }
    acc
}

/// The schema of a regional table.
pub fn regional_schema(query: &AggregateQuery) -> SchemaRef {
    let node = query.result_schema();
    let mut fields = vec![Field::new(DEPARTEMENT_COLUMN, DataType::Utf8, false)];
    fields.extend(node.fields().iter().map(|f| f.as_ref().clone()));
    for suffix in [LOWER, UPPER] {
        for m in &query.measures {
            let ty = if m.aggregate == Aggregate::Count {
                DataType::Int64
            } else {
                DataType::Float64
            };
            fields.push(Field::new(format!("{}{suffix}", m.output_name()), ty, true));
        }
    }
    Arc::new(Schema::new(fields))
}

/// A département's cell of a regional group: its département, its status, its values (only
/// read when released), and what its node published about withheld cells.
type GroupCell<'a> = (Cdg, String, Vec<Option<f64>>, &'a Published);

/// Merges the answered départements' batches (already schema-checked) into the regional table.
/// `missing` are the départements asked that did not answer: the regional rows name them.
/// Without `regional` (a study of one département) there are no regional rows: they would
/// only repeat the département's. `secured` are the regional cells a secure aggregation
/// settled (`crate::secure`): where one is published, it stands for its participants' withheld
/// cells in the regional total.
pub fn merge(
    query: &AggregateQuery,
    answers: &[Answer],
    missing: &[Cdg],
    regional: bool,
    secured: &BTreeMap<Vec<String>, Aggregated>,
) -> Result<RecordBatch, MergeError> {
    let mut rows: Vec<Row> = Vec::new();
    let mut groups: BTreeMap<Vec<String>, Vec<GroupCell>> = BTreeMap::new();
    for answer in answers {
        for row in read_rows(query, answer) {
            if !regional {
                rows.push(row);
                continue;
            }
            let released = row.diffusion == RELEASED;
            groups.entry(row.dims.clone()).or_default().push((
                answer.cdg,
                row.diffusion.clone(),
                if released {
                    row.values.clone()
                } else {
                    Vec::new()
                },
                answer.published,
            ));
            rows.push(row);
        }
    }
    let without = if missing.is_empty() {
        String::new()
    } else {
        let codes: Vec<&str> = missing.iter().map(|c| c.code()).collect();
        format!("; sans réponse de: {}", codes.join(", "))
    };
    for (dims, mut cells) in groups {
        let no_values = vec![None; query.measures.len()];
        // A published secure sum replaces its participants' withheld cells.
        let summed = match secured.get(&dims) {
            Some(Aggregated {
                participants,
                outcome: Ok(values),
            }) => {
                let published = cells
                    .iter()
                    .find(|c| participants.contains(&c.0))
                    .map(|c| c.3);
                cells.retain(|c| !(participants.contains(&c.0) && c.1 != RELEASED));
                if let Some(published) = published {
                    cells.push((
                        participants[0],
                        RELEASED.to_string(),
                        values.clone(),
                        published,
                    ));
                }
                true
            }
            _ => false,
        };
        let hidden = cells.iter().filter(|c| c.1 != RELEASED).count();
        let mut acc = accumulate(
            query,
            cells.iter().map(|(_, status, values, published)| {
                (
                    status,
                    if values.is_empty() {
                        &no_values
                    } else {
                        values
                    },
                    *published,
                )
            }),
        );
        let diffusion = match (cells.len() - hidden, hidden) {
            (_, 0) if summed => SECURE.to_string(),
            (_, 0) => RELEASED.to_string(),
            (0, _) => REGION_SECRET.to_string(),
            (_, n) => format!("partiel: {n} département(s) en secret, valeur encadrée"),
        } + &without;
        let (values, bounds) = acc.iter_mut().map(|(a, agg)| a.finish(*agg)).unzip();
        rows.push(Row {
            departement: REGION.to_string(),
            dims,
            diffusion,
            values,
            bounds,
        });
    }
    rows.sort_by(|a, b| {
        natural_order_all(&a.dims, &b.dims)
            .then_with(|| (a.departement == REGION).cmp(&(b.departement == REGION)))
            .then_with(|| a.departement.cmp(&b.departement))
    });
    build(query, &rows)
}

/// A builder per measure column, typed as the measure.
enum Column {
    Int(Int64Builder),
    Float(Float64Builder),
}

impl Column {
    fn of(aggregate: Aggregate) -> Column {
        if aggregate == Aggregate::Count {
            Column::Int(Int64Builder::new())
        } else {
            Column::Float(Float64Builder::new())
        }
    }

    fn append(&mut self, v: Option<f64>) {
        match self {
            Column::Int(b) => b.append_option(v.map(|x| x.round() as i64)),
            Column::Float(b) => b.append_option(v),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Column::Int(b) => Arc::new(b.finish()),
            Column::Float(b) => Arc::new(b.finish()),
        }
    }
}

fn build(query: &AggregateQuery, rows: &[Row]) -> Result<RecordBatch, MergeError> {
    let schema = regional_schema(query);
    let mut dep = StringBuilder::new();
    let mut dims: Vec<StringBuilder> = query
        .group_by
        .iter()
        .map(|_| StringBuilder::new())
        .collect();
    let mut diffusion = StringBuilder::new();
    let columns_of = || -> Vec<Column> {
        query
            .measures
            .iter()
            .map(|m| Column::of(m.aggregate))
            .collect()
    };
    let (mut values, mut lows, mut highs) = (columns_of(), columns_of(), columns_of());
    for row in rows {
        dep.append_value(&row.departement);
        for (b, v) in dims.iter_mut().zip(&row.dims) {
            b.append_value(v);
        }
        diffusion.append_value(&row.diffusion);
        for (i, (v, b)) in row.values.iter().zip(&row.bounds).enumerate() {
            values[i].append(*v);
            lows[i].append(b.low);
            highs[i].append(b.high);
        }
    }
    let mut columns: Vec<ArrayRef> = vec![Arc::new(dep.finish())];
    columns.extend(dims.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
    columns.push(Arc::new(diffusion.finish()));
    for c in values.iter_mut().chain(&mut lows).chain(&mut highs) {
        columns.push(c.finish());
    }
    debug_assert_eq!(schema.fields().len(), columns.len());
    Ok(RecordBatch::try_new(schema, columns)?)
}

#[cfg(test)]
mod tests {
    use arrow::array::AsArray;
    use arrow::datatypes::{Float64Type, Int64Type};
    use cdg_shared::query::Measure;

    use super::*;
    use crate::bounds::Published;
    use cdg_shared::proto::v1::{MeasureRange, SecretBound};

    fn published() -> Published {
        Published {
            secret_bounds: vec![SecretBound {
                status: "secret: seuil".into(),
                count_min: 0,
                count_max: Some(14),
            }],
            measure_ranges: vec![MeasureRange {
                column: "etpr".into(),
                min: 0.0,
                max: 1.0,
            }],
            noise: None,
        }
    }

    fn answers<'a>(p: &'a Published, batches: &'a [(Cdg, Checked)]) -> Vec<Answer<'a>> {
        batches
            .iter()
            .map(|(cdg, batch)| Answer {
                cdg: *cdg,
                batch,
                published: p,
            })
            .collect()
    }

    fn query() -> AggregateQuery {
        AggregateQuery {
            dataset: "agents".into(),
            group_by: vec!["sexe".into()],
            measures: vec![Measure::count(), "mean(etpr)".parse().unwrap()],
            filters: vec![],
        }
    }

    fn node_batch(rows: &[(&str, &str, Option<i64>, Option<f64>)]) -> Checked {
        let q = query();
        let batch = RecordBatch::try_new(
            q.result_schema(),
            vec![
                Arc::new(StringArray::from(
                    rows.iter().map(|r| r.0).collect::<Vec<_>>(),
                )),
                Arc::new(StringArray::from(
                    rows.iter().map(|r| r.1).collect::<Vec<_>>(),
                )),
                Arc::new(Int64Array::from(
                    rows.iter().map(|r| r.2).collect::<Vec<_>>(),
                )),
                Arc::new(Float64Array::from(
                    rows.iter().map(|r| r.3).collect::<Vec<_>>(),
                )),
            ],
        )
        .unwrap();
        Checked::new(&q, Cdg::Aisne, batch).unwrap()
    }

    #[test]
    fn an_answer_with_other_columns_is_refused_naming_a_bounded_list() {
        let short = Schema::new(vec![Field::new("sexe", DataType::Utf8, false)]);
        let e = check_fields(&query(), Cdg::Nord, &short)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("CDG 59 answered with columns [sexe: Utf8]"),
            "{e}"
        );
        let long = Schema::new(vec![Field::new("x".repeat(1 << 20), DataType::Utf8, false)]);
        let e = check_fields(&query(), Cdg::Nord, &long)
            .unwrap_err()
            .to_string();
        assert!(e.len() < 1024 && e.contains("… (1048582 bytes)"), "{e}");
    }

    #[test]
    fn regional_rows_use_released_cells_only_and_weight_means() {
        let a = node_batch(&[
            ("F", RELEASED, Some(100), Some(0.9)),
            ("H", RELEASED, Some(50), Some(1.0)),
        ]);
        let b = node_batch(&[
            ("F", RELEASED, Some(300), Some(0.5)),
            ("H", "secret: seuil", None, None),
        ]);
        let c = node_batch(&[("H", "secret: seuil", None, None)]);
        let p = published();
        let batches = [(Cdg::Aisne, a), (Cdg::Nord, b), (Cdg::Oise, c)];
        let merged = merge(
            &query(),
            &answers(&p, &batches),
            &[Cdg::Somme],
            true,
            &BTreeMap::new(),
        )
        .unwrap();
        let dep = merged.column(0).as_string::<i32>();
        let sexe = merged.column(1).as_string::<i32>();
        let diffusion = merged.column(2).as_string::<i32>();
        let count = merged.column(3).as_primitive::<Int64Type>();
        let mean = merged.column(4).as_primitive::<Float64Type>();
        let region = |s: &str| {
            (0..merged.num_rows())
                .find(|&r| dep.value(r) == REGION && sexe.value(r) == s)
                .unwrap()
        };
        let col = |name: &str| merged.schema().index_of(name).unwrap();
        let count_low = merged
            .column(col("nombre_borne_basse"))
            .as_primitive::<Int64Type>();
        let count_high = merged
            .column(col("nombre_borne_haute"))
            .as_primitive::<Int64Type>();
        let mean_low = merged
            .column(col("moyenne_etpr_borne_basse"))
            .as_primitive::<Float64Type>();
        let f = region("F");
        assert_eq!(
            diffusion.value(f),
            format!("{RELEASED}; sans réponse de: 80"),
            "the regional total says who is missing"
        );
        assert_eq!(count.value(f), 400);
        assert_eq!((count_low.value(f), count_high.value(f)), (400, 400));
        assert!((mean.value(f) - (100.0 * 0.9 + 300.0 * 0.5) / 400.0).abs() < 1e-12);
        let h = region("H");
        assert!(diffusion.value(h).starts_with("partiel"));
        assert!(count.is_null(h) && mean.is_null(h), "never a point");
        // Two withheld cells of at most 14 rows each: [50, 50 + 28].
        assert_eq!((count_low.value(h), count_high.value(h)), (50, 78));
        assert!((mean_low.value(h) - 50.0 / 78.0).abs() < 1e-12);
        // A withheld département row carries the public bounds only.
        let nord_h = (0..merged.num_rows())
            .find(|&r| dep.value(r) == "59" && sexe.value(r) == "H")
            .unwrap();
        assert_eq!((count_low.value(nord_h), count_high.value(nord_h)), (0, 14));
        assert_eq!(merged.num_rows(), 5 + 2);
    }

    #[test]
    fn a_study_of_one_departement_has_no_regional_rows() {
        let a = node_batch(&[("F", RELEASED, Some(100), Some(0.9))]);
        let p = published();
        let merged = merge(
            &query(),
            &answers(&p, &[(Cdg::Aisne, a)]),
            &[],
            false,
            &BTreeMap::new(),
        )
        .unwrap();
        let dep = merged.column(0).as_string::<i32>();
        assert_eq!(merged.num_rows(), 1);
        assert_eq!(dep.value(0), "02");
    }

    #[test]
    fn a_published_secure_sum_stands_for_its_participants_withheld_cells() {
        let p = published();
        let batches = [
            (
                Cdg::Aisne,
                node_batch(&[("F", "secret: seuil", None, None)]),
            ),
            (
                Cdg::Oise,
                node_batch(&[("F", RELEASED, Some(100), Some(0.5))]),
            ),
            (
                Cdg::Somme,
                node_batch(&[("F", "secret: seuil", None, None)]),
            ),
        ];
        let secured = BTreeMap::from([(
            vec!["F".to_string()],
            Aggregated {
                participants: vec![Cdg::Aisne, Cdg::Somme],
                outcome: Ok(vec![Some(14.0), Some(0.75)]),
            },
        )]);
        let merged = merge(&query(), &answers(&p, &batches), &[], true, &secured).unwrap();
        let region = merged.num_rows() - 1;
        assert_eq!(merged.column(2).as_string::<i32>().value(region), SECURE);
        let count = merged.column(3).as_primitive::<Int64Type>();
        assert_eq!(count.value(region), 114);
        // The mean weighs the secure sum by its own (perturbed) count.
        let mean = merged.column(4).as_primitive::<Float64Type>().value(region);
        assert!(
            (mean - (100.0 * 0.5 + 14.0 * 0.75) / 114.0).abs() < 1e-9,
            "{mean}"
        );
        // A sum the rules keep secret leaves the row an interval, as before.
        let withheld = BTreeMap::from([(
            vec!["F".to_string()],
            Aggregated {
                participants: vec![Cdg::Aisne, Cdg::Somme],
                outcome: Err(cdg_shared::query::Diffusion::Threshold.as_str()),
            },
        )]);
        let merged = merge(&query(), &answers(&p, &batches), &[], true, &withheld).unwrap();
        let region = merged.num_rows() - 1;
        assert!(
            merged
                .column(2)
                .as_string::<i32>()
                .value(region)
                .starts_with("partiel")
        );
        assert!(merged.column(3).is_null(region));
    }

    #[test]
    fn all_suppressed_is_secret_and_schemas_are_checked() {
        let a = node_batch(&[("F", "secret: seuil", None, None)]);
        let p = published();
        let merged = merge(
            &query(),
            &answers(&p, &[(Cdg::Aisne, a.clone())]),
            &[],
            true,
            &BTreeMap::new(),
        )
        .unwrap();
        let region = merged.num_rows() - 1;
        assert_eq!(
            merged.column(2).as_string::<i32>().value(region),
            REGION_SECRET
        );
        assert!(merged.column(3).is_null(region));
        let mut other = query();
        other.group_by = vec!["categorie".into()];
        // A batch of another query's columns is no answer to be merged.
        let err = Checked::new(&other, Cdg::Somme, a.batch().clone())
            .expect_err("refused")
            .to_string();
        assert!(err.contains("CDG 80") && err.contains("sexe"), "{err}");
    }
}
