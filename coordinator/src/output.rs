//! Showing study results: a readable terminal rendering (one pivot table per measure,
//! départements as columns). Files are written by `export.rs`.

use std::fmt::Write as _;

use anyhow::Context;
use arrow::array::RecordBatch;
use cdg_shared::arrow_ipc;
use cdg_shared::proto::v1::node_outcome::Status as OutcomeStatus;
use cdg_shared::proto::v1::{QueryResult, StudyResult};
use cdg_shared::query::DIFFUSION_COLUMN;
use cdg_shared::text::prefix;

pub use crate::export::{Format, result_json, write_all};

/// One progress step for the terminal (`json`: one JSON object per line, for scripts).
pub fn progress_line(p: &cdg_shared::proto::v1::NodeProgress, json: bool) -> String {
    if json {
        return serde_json::json!({
            "cdg": p.cdg,
            "step": p.step,
            "query": p.query_name,
            "done": p.queries_done,
            "total": p.queries_total,
            "message": p.message,
            "elapsed_ms": p.elapsed_ms,
        })
        .to_string();
    }
    let step = match p.step.as_str() {
        "asking" => "interrogé",
        "answered" => "réponse reçue",
        "retrying" => "nouvel essai",
        "failed" => "échec",
        other => other,
    };
    let mut line = format!(
        "[{:>6.1} s] CDG {} {} {}/{} {}",
        p.elapsed_ms as f64 / 1000.0,
        p.cdg,
        p.query_name,
        p.queries_done,
        p.queries_total,
        step
    );
    if !p.message.is_empty() {
        line.push_str(": ");
        line.push_str(&p.message);
    }
    line
}

/// Decodes one query's regional table.
pub fn query_batch(q: &QueryResult) -> anyhow::Result<RecordBatch> {
    let (schema, batches) =
        arrow_ipc::decode(&q.arrow_ipc).with_context(|| format!("decoding {}", q.name))?;
    Ok(arrow::compute::concat_batches(&schema, &batches)?)
}

/// What the marks of the tables mean, as the printed tables, the workbooks and the reports say.
pub const LEGEND: &str = "s = secret statistique (seuil de 11 personnes ou 3 employeurs, diversité des employeurs, dominance, cellule 100%) ; [a ; b] ou ≥a = valeur encadrée : total régional dont un département au moins est en secret, ou indicateur dont une entrée est en secret, calculé sur les seules bornes publiées ; * = total des seuls départements qui ont répondu ; † = agrégation sécurisée : total régional où les cellules en secret d'au moins deux départements sont additionnées sous des masques qui s'annulent dans la somme, sans qu'aucun département ne révèle la sienne, puis soumises aux mêmes règles et perturbées ; n.c. = indicateur incalculable (cellule absente ou dénominateur nul) ; valeurs diffusées perturbées (méthode des clés de cellule), la marge de bruit d'un indicateur dit de combien la perturbation peut le déplacer";

/// Every table of a result: the queries', then the indicators'.
pub fn tables(result: &StudyResult) -> impl Iterator<Item = &QueryResult> {
    result.queries.iter().chain(&result.indicators)
}

/// The measures of a regional or indicator table, each with its lower and upper bound
/// columns: (value, lower, upper) column indices.
pub fn measure_columns(schema: &arrow::datatypes::Schema) -> Vec<(usize, usize, usize)> {
    let first = schema.index_of(DIFFUSION_COLUMN).map_or(0, |d| d + 1);
    (first..schema.fields().len())
        .filter_map(|c| {
            let name = schema.field(c).name();
            let low = schema
                .index_of(&format!("{name}{}", crate::merge::LOWER))
                .ok()?;
            let high = schema
                .index_of(&format!("{name}{}", crate::merge::UPPER))
                .ok()?;
            Some((c, low, high))
        })
        .collect()
}

/// A node's answer in French, with why when it did not answer.
pub fn answer_text(o: &cdg_shared::proto::v1::NodeOutcome) -> String {
    if o.message.is_empty() {
        outcome_label(o.status).to_string()
    } else {
        format!("{} : {}", outcome_label(o.status), o.message)
    }
}

/// The data a node answered on: `dataset year (digest)` per slice.
pub fn versions_text(o: &cdg_shared::proto::v1::NodeOutcome) -> String {
    let mut versions: Vec<String> = o
        .data_versions
        .iter()
        .map(|v| format!("{} {} ({})", v.dataset, v.year, prefix(&v.digest, 12)))
        .collect();
    versions.dedup();
    versions.join(", ")
}

/// A node's outcome in French.
pub fn outcome_label(status: i32) -> &'static str {
    match OutcomeStatus::try_from(status).unwrap_or(OutcomeStatus::Unspecified) {
        OutcomeStatus::Answered => "a répondu",
        OutcomeStatus::Refused => "refus",
        OutcomeStatus::Unreachable => "injoignable",
        OutcomeStatus::TimedOut => "délai dépassé",
        OutcomeStatus::Incompatible => "incompatible",
        OutcomeStatus::Unspecified => "inconnu",
    }
}

fn table(header: &[String], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut s = String::new();
        for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
            let pad = w - c.chars().count();
            if i == 0 || c.parse::<f64>().is_err() {
                let _ = write!(s, "{c}{}  ", " ".repeat(pad));
            } else {
                let _ = write!(s, "{}{c}  ", " ".repeat(pad));
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(header);
    out.push_str(
        &(widths
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .join("  ")
            + "\n"),
    );
    for r in rows {
        out.push_str(&line(r));
    }
    out
}

/// A pivot of one measure: one row per cell, one column per département and the region.
/// `s` marks a cell under statistical secrecy; a regional total with a withheld département
/// shows its bounds, `[low ; high]` or `≥low`; `*` marks a regional total some départements
/// did not answer for. `bounds` are the measure's lower and upper bound columns.
fn pivot(batch: &RecordBatch, measure_col: usize, bounds: (usize, usize)) -> String {
    let p = crate::pivot::pivot(batch, measure_col, bounds);
    let number = |v: f64| {
        if p.integer {
            format!("{v:.0}")
        } else if v.abs() < 1.0 {
            format!("{v:.3}")
        } else {
            format!("{v:.1}")
        }
    };
    let mut header = p.dims.clone();
    if header.is_empty() {
        header.push(String::new());
    }
    header.extend(p.columns.iter().cloned());
    let rows: Vec<Vec<String>> = p
        .rows
        .iter()
        .map(|(key, cells)| {
            let mut r = if key.is_empty() {
                vec!["total".to_string()]
            } else {
                key.clone()
            };
            r.extend(cells.iter().map(|c| c.text(&number)));
            r
        })
        .collect();
    table(&header, &rows)
}

/// The data versions a node answered on, one line per dataset: `agents: 2023 #1a2b3c4d, ...`.
fn versions_lines(versions: &[cdg_shared::proto::v1::DataVersion]) -> Vec<String> {
    let mut by_dataset: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
    for v in versions {
        let entry = format!("{} #{}", v.year, prefix(&v.digest, 8));
        let years = by_dataset.entry(v.dataset.as_str()).or_default();
        if !years.contains(&entry) {
            years.push(entry);
        }
    }
    by_dataset
        .into_iter()
        .map(|(dataset, mut years)| {
            years.sort();
            format!("{dataset}: {}", years.join(", "))
        })
        .collect()
}

/// The whole result as text for the terminal.
pub fn render(result: &StudyResult) -> anyhow::Result<String> {
    let mut out = String::new();
    writeln!(out, "Étude {} — {}", result.study_id, result.title)?;
    writeln!(
        out,
        "empreinte {}  ({} → {})",
        result.digest, result.started_at, result.finished_at
    )?;
    writeln!(out)?;
    let rows: Vec<Vec<String>> = result
        .outcomes
        .iter()
        .map(|o| {
            vec![
                o.cdg.clone(),
                outcome_label(o.status).to_string(),
                o.cells_released.to_string(),
                o.cells_suppressed.to_string(),
                o.message.clone(),
            ]
        })
        .collect();
    let header = [
        "département",
        "réponse",
        "cellules diffusées",
        "cellules en secret",
        "motif",
    ]
    .map(String::from);
    out.push_str(&table(&header, &rows));
    writeln!(
        out,
        "\nDonnées utilisées (année #empreinte SHA-256 du fichier chargé):"
    )?;
    for o in &result.outcomes {
        for line in versions_lines(&o.data_versions) {
            writeln!(out, "  {}  {line}", o.cdg)?;
        }
    }
    for q in tables(result) {
        let batch = query_batch(q)?;
        let schema = batch.schema();
        for (measure, low, high) in measure_columns(&schema) {
            writeln!(out, "\n{} — {}", q.title, schema.field(measure).name())?;
            out.push_str(&pivot(&batch, measure, (low, high)));
        }
    }
    writeln!(out, "\n{LEGEND}")?;
    Ok(out)
}

/// Writes each query's regional table into `dir` as `<query>.<ext>`; returns the paths.
/// A study's state and decisions, for the terminal.
pub fn render_status(s: &cdg_shared::proto::v1::StudyStatus) -> String {
    let mut out = format!(
        "{} {}\n  digest: {}\n  state: {}\n",
        s.study_id, s.title, s.digest, s.state
    );
    for d in &s.departements {
        let by = if d.director.is_empty() {
            String::new()
        } else {
            format!(" by {}", d.director)
        };
        out.push_str(&format!("  CDG {}: {}{by}\n", d.cdg, d.decision));
    }
    for d in &s.decisions {
        let who = cdg_shared::identity::Principal::from_certificate_der(&d.certificate)
            .map(|p| p.uri())
            .unwrap_or_else(|_| "?".into());
        let note = if d.note.is_empty() {
            String::new()
        } else {
            format!(": {}", d.note)
        };
        out.push_str(&format!("  {} {} {}{note}\n", d.signed_at, d.decision, who));
    }
    if !s.announcement_awaits.is_empty() {
        out.push_str(&format!(
            "  external: not run before the comité technique is informed; not yet reached: CDG {}\n",
            s.announcement_awaits.join(", ")
        ));
    } else if !s.announced_at.is_empty() {
        out.push_str(&format!(
            "  external: comité technique informed on {}\n",
            s.announced_at
        ));
    }
    if !s.restituted_at.is_empty() {
        out.push_str(&format!(
            "  results restituted to the directors on {}\n",
            s.restituted_at
        ));
    } else if !s.restitution_awaits.is_empty() {
        out.push_str(&format!(
            "  results not yet restituted to CDG {}\n",
            s.restitution_awaits.join(", ")
        ));
    }
    out
}
