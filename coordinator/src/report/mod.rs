//! The study report: one self-contained HTML file in French, for the Conférence régionale.
//! No script, no external font or image: it opens offline and prints to PDF from the browser.
//! Each table and indicator has a chart suited to it (`choose.rs`, drawn by `svg.rs`) and its
//! figures with every withheld cell marked; the report ends with the legend of the marks and
//! the provenance: digest, approving directors, each node's data and policy versions, dates.

pub mod choose;
pub mod format;
pub mod svg;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::Float64Type;
use cdg_shared::proto::v1::{QueryResult, StudyResult};
use cdg_shared::query::{DEPARTEMENT_COLUMN, DIFFUSION_COLUMN, REGION};
use cdg_shared::study::Study;

use crate::output::{LEGEND, answer_text, measure_columns, query_batch, versions_text};
use crate::pivot::{Mark, Pivot, pivot};
use format::{escape, measure_label, number};

const STYLE: &str = include_str!("report.css");

/// Writes the report of `result` into `dir` as `<study id>.html`; returns its path.
pub fn write(result: &StudyResult, study: Option<&Study>, dir: &Path) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let generated = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string();
    let html = render(result, study, &generated)?;
    let path = dir.join(format!("{}.html", result.study_id));
    let partial = path.with_extension("html.partial");
    std::fs::write(&partial, html).with_context(|| format!("writing {}", partial.display()))?;
    std::fs::rename(&partial, &path).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// The report as HTML; `generated` is the date it states it was made.
pub fn render(
    result: &StudyResult,
    study: Option<&Study>,
    generated: &str,
) -> anyhow::Result<String> {
    let mut h = String::with_capacity(256 * 1024);
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"fr\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\"><title>{}</title>\
         <style>{STYLE}</style></head><body><header><p class=\"kicker\">Observatoire régional de \
         l'emploi territorial — Hauts-de-France</p><h1>{}</h1>",
        escape(&result.title),
        escape(&result.title)
    );
    if let Some(s) = study {
        let _ = write!(h, "<p class=\"purpose\">{}</p>", escape(&s.purpose));
    }
    let _ = write!(
        h,
        "<p class=\"meta\">Étude {} · exécutée le {} · rapport du {}</p></header>",
        escape(&result.study_id),
        escape(&day(&result.finished_at)),
        escape(generated)
    );
    // The contents.
    h.push_str("<nav><h2>Sommaire</h2><ol>");
    for q in crate::output::tables(result) {
        let _ = write!(
            h,
            "<li><a href=\"#t-{}\">{}</a></li>",
            escape(&q.name),
            escape(&q.title)
        );
    }
    h.push_str("<li><a href=\"#legende\">Légende</a></li><li><a href=\"#provenance\">Provenance</a></li></ol></nav><main>");
    if !result.queries.is_empty() {
        h.push_str("<h2 class=\"part\">Tableaux</h2>");
    }
    for q in &result.queries {
        section(&mut h, q, None)?;
    }
    if !result.indicators.is_empty() {
        h.push_str("<h2 class=\"part\">Indicateurs</h2>");
    }
    for q in &result.indicators {
        let described = study
            .and_then(|s| s.indicators.iter().find(|i| i.name == q.name))
            .map(|i| i.describe());
        section(&mut h, q, Some(described.unwrap_or_default()))?;
    }
    h.push_str("</main>");
    legend(&mut h);
    provenance(&mut h, result);
    h.push_str("</body></html>\n");
    Ok(h)
}

/// The date of an RFC 3339 time.
fn day(time: &str) -> String {
    time.get(..10).unwrap_or(time).to_string()
}

/// The measure a table's chart shows: the first, unless it is the count the coordinator added
/// to a mean (then the mean).
pub fn charted(batch: &RecordBatch, measures: &[(usize, usize, usize)]) -> usize {
    let schema = batch.schema();
    let name = |c: usize| schema.field(c).name().clone();
    match measures {
        [first, rest @ ..] if name(first.0) == "nombre" => rest
            .iter()
            .find(|m| name(m.0).starts_with("moyenne_"))
            .map_or(0, |_| 1),
        _ => 0,
    }
}

/// One table or indicator: its chart, then a table per measure. `indicator` is what an
/// indicator computes, in words.
fn section(h: &mut String, q: &QueryResult, indicator: Option<String>) -> anyhow::Result<()> {
    let batch = query_batch(q)?;
    let measures = measure_columns(&batch.schema());
    let _ = write!(
        h,
        "<section class=\"table\" id=\"t-{}\"><h3>{}</h3>",
        escape(&q.name),
        escape(&q.title)
    );
    if let Some(what) = indicator.as_deref().filter(|w| !w.is_empty()) {
        let _ = write!(h, "<p class=\"what\">Calcul : {}</p>", escape(what));
    }
    let noise = noise_margins(&batch, &q.name);
    let pivots: Vec<Pivot> = measures
        .iter()
        .map(|&(m, lo, hi)| pivot(&batch, m, (lo, hi)))
        .collect();
    if let Some(p) = pivots.get(charted(&batch, &measures))
        && let Some(plan) = choose::plan(p)
    {
        let _ = write!(
            h,
            "<figure>{}<figcaption>{} — {}</figcaption></figure>",
            choose::svg(&plan),
            escape(&measure_label(&p.measure)),
            escape(&plan.caption)
        );
    }
    for p in &pivots {
        table(h, &q.name, p, &noise);
    }
    if let Some(regional) = noise.get(&vec![REGION.to_string()]).copied().flatten() {
        let _ = write!(
            h,
            "<p class=\"noise\">La perturbation des cellules peut déplacer la valeur régionale \
             d'au plus ±{}.</p>",
            number(regional, false)
        );
    }
    h.push_str("</section>");
    Ok(())
}

/// An indicator's noise margin by (département, dimension values).
fn noise_margins(batch: &RecordBatch, name: &str) -> HashMap<Vec<String>, Option<f64>> {
    let schema = batch.schema();
    let (Ok(dep), Ok(diff), Some(col)) = (
        schema.index_of(DEPARTEMENT_COLUMN),
        schema.index_of(DIFFUSION_COLUMN),
        batch.column_by_name(&format!("{name}{}", crate::indicators::NOISE)),
    ) else {
        return HashMap::new();
    };
    let Some(values) = col.as_primitive_opt::<Float64Type>() else {
        return HashMap::new();
    };
    (0..batch.num_rows())
        .map(|r| {
            let key: Vec<String> = (dep..diff)
                .map(|c| batch.column(c).as_string::<i32>().value(r).to_string())
                .collect();
            (key, values.is_valid(r).then(|| values.value(r)))
        })
        .collect()
}

/// A measure's pivot as an HTML table; each figure carries its raw value and its cell.
fn table(h: &mut String, name: &str, p: &Pivot, noise: &HashMap<Vec<String>, Option<f64>>) {
    let _ = write!(
        h,
        "<table data-table=\"{}\" data-mesure=\"{}\"><caption>{}</caption><thead><tr>",
        escape(name),
        escape(&p.measure),
        escape(&measure_label(&p.measure))
    );
    if p.dims.is_empty() {
        h.push_str("<th></th>");
    }
    for d in &p.dims {
        let _ = write!(h, "<th scope=\"col\">{}</th>", escape(d));
    }
    for c in &p.columns {
        let label = if c == REGION {
            c.clone()
        } else {
            format!("CDG {c}")
        };
        let _ = write!(h, "<th scope=\"col\" class=\"num\">{}</th>", escape(&label));
    }
    h.push_str("</tr></thead><tbody>");
    let format = |v: f64| number(v, p.integer);
    for (key, cells) in &p.rows {
        h.push_str("<tr>");
        if key.is_empty() {
            h.push_str("<th scope=\"row\">total</th>");
        }
        for k in key {
            let _ = write!(h, "<th scope=\"row\">{}</th>", escape(k));
        }
        for (column, cell) in p.columns.iter().zip(cells) {
            let class = match cell.mark {
                Mark::Released => "num",
                Mark::Partial => "num partial",
                Mark::Secure => "num secure",
                Mark::Secret => "num secret",
                Mark::Bounded => "num bounded",
                Mark::Undefined => "num undefined",
                Mark::Missing => "num missing",
            };
            let mut cle = vec![column.clone()];
            cle.extend(key.iter().cloned());
            let mut title = cell.status.clone();
            if let Some(Some(margin)) = noise.get(&cle) {
                title.push_str(&format!(" ; marge de bruit ±{}", number(*margin, false)));
            }
            let _ = write!(
                h,
                "<td class=\"{class}\" data-cle=\"{}\"{} title=\"{}\">{}</td>",
                escape(&cle.join("|")),
                cell.value
                    .filter(|_| matches!(cell.mark, Mark::Released | Mark::Partial | Mark::Secure))
                    .map(|v| format!(" data-valeur=\"{v}\""))
                    .unwrap_or_default(),
                escape(&title),
                escape(&cell.text(&format))
            );
        }
        h.push_str("</tr>");
    }
    h.push_str("</tbody></table>");
}

fn legend(h: &mut String) {
    h.push_str("<section id=\"legende\"><h2>Légende</h2><ul>");
    for item in LEGEND.split(" ; ") {
        let _ = write!(h, "<li>{}</li>", escape(item));
    }
    h.push_str("</ul></section>");
}

fn provenance(h: &mut String, result: &StudyResult) {
    let _ = write!(
        h,
        "<section id=\"provenance\"><h2>Provenance</h2><dl>\
         <dt>Étude</dt><dd>{}</dd><dt>Empreinte SHA-256 de l'étude signée</dt><dd class=\"digest\">{}</dd>\
         <dt>Exécution</dt><dd>du {} au {}</dd><dt>Approuvée par</dt><dd><ul>",
        escape(&result.study_id),
        escape(&result.digest),
        escape(&result.started_at),
        escape(&result.finished_at)
    );
    for a in &result.approvals {
        let _ = write!(
            h,
            "<li>{} — signé le {}</li>",
            escape(&crate::export::approver(a)),
            escape(&a.signed_at)
        );
    }
    h.push_str(
        "</ul></dd></dl><table class=\"nodes\"><thead><tr><th>Département</th><th>Réponse</th>\
                <th>Versions des données</th><th>Version de la politique</th></tr></thead><tbody>",
    );
    for o in &result.outcomes {
        let _ = write!(
            h,
            "<tr><td>CDG {}</td><td>{}</td><td>{}</td><td class=\"digest\">{}</td></tr>",
            escape(&o.cdg),
            escape(&answer_text(o)),
            escape(&versions_text(o)),
            escape(cdg_shared::text::prefix(&o.policy_version, 16))
        );
    }
    h.push_str("</tbody></table></section>");
}
