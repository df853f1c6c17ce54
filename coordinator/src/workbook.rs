//! The result as one XLSX workbook: a provenance sheet in French (study, digest, approvals,
//! each node's answer, data and policy versions, each sheet's title, the legend of the marks),
//! then one sheet per table and indicator with its rows and, where one suits the figure, a
//! native Excel chart drawn from a small block of regional values beside them (the same chart
//! as the report's, `report::choose`).

use std::path::Path;

use anyhow::Context;
use cdg_shared::proto::v1::StudyResult;
use rust_xlsxwriter::{Chart, Format as CellFormat, Worksheet};

use crate::export::{approver, json_value};
use crate::output::{measure_columns, query_batch};
use crate::report::choose::{self, Kind, Plan};
use crate::report::svg::Bar;

/// A sheet name Excel accepts: at most 31 characters, none of `[]:*?/\`, and not one of
/// `used` (Excel compares them without regard to case): a second `effectifs_par_…` becomes
/// `effectifs_par_…~2`, still within 31 characters.
fn sheet_name(name: &str, used: &mut Vec<String>) -> String {
    let clean: String = name
        .chars()
        .map(|c| if "[]:*?/\\".contains(c) { '_' } else { c })
        .collect();
    let taken =
        |n: &str, used: &[String]| used.iter().any(|u| u.to_lowercase() == n.to_lowercase());
    let mut candidate: String = clean.chars().take(31).collect();
    let mut k = 2;
    while taken(&candidate, used) {
        let suffix = format!("~{k}");
        candidate = clean.chars().take(31 - suffix.len()).collect::<String>() + &suffix;
        k += 1;
    }
    used.push(candidate.clone());
    candidate
}

/// Writes the result as one workbook: the provenance sheet, then a sheet per table, each with
/// a native chart of the measure the report draws, where one suits it.
pub fn write(result: &StudyResult, path: &Path) -> anyhow::Result<()> {
    use rust_xlsxwriter::Workbook;
    let mut book = Workbook::new();
    let bold = CellFormat::new().set_bold();
    // Excel reserves "History" for itself.
    let mut used = vec!["Origine".to_string(), "History".to_string()];
    let about = book.add_worksheet().set_name("Origine")?;
    let approvals: Vec<String> = result
        .approvals
        .iter()
        .map(|a| format!("{} ({})", approver(a), a.signed_at))
        .collect();
    let lines = [
        ("Étude", format!("{} {}", result.study_id, result.title)),
        ("Empreinte SHA-256", result.digest.clone()),
        ("Début", result.started_at.clone()),
        ("Fin", result.finished_at.clone()),
        ("Approuvée par", approvals.join(", ")),
    ];
    for (r, (k, v)) in lines.iter().enumerate() {
        about.write_string_with_format(r as u32, 0, *k, &bold)?;
        about.write_string(r as u32, 1, v)?;
    }
    let first = lines.len() as u32 + 1;
    about.write_string_with_format(first, 0, "Département", &bold)?;
    about.write_string_with_format(first, 1, "Réponse", &bold)?;
    about.write_string_with_format(first, 2, "Versions des données", &bold)?;
    about.write_string_with_format(first, 3, "Version de la politique", &bold)?;
    for (i, o) in result.outcomes.iter().enumerate() {
        let r = first + 1 + i as u32;
        about.write_string(r, 0, &o.cdg)?;
        about.write_string(r, 1, crate::output::answer_text(o))?;
        about.write_string(r, 2, crate::output::versions_text(o))?;
        about.write_string(r, 3, &o.policy_version)?;
    }
    // Each query's sheet and title, then what the marks mean.
    let mut r = first + 2 + result.outcomes.len() as u32;
    about.write_string_with_format(r, 0, "Feuille", &bold)?;
    about.write_string_with_format(r, 1, "Tableau", &bold)?;
    let names: Vec<String> = crate::output::tables(result)
        .map(|q| sheet_name(&q.name, &mut used))
        .collect();
    for (q, name) in crate::output::tables(result).zip(&names) {
        r += 1;
        about.write_string(r, 0, name)?;
        about.write_string(r, 1, &q.title)?;
    }
    about.write_string_with_format(r + 2, 0, "Légende", &bold)?;
    about.write_string(r + 2, 1, crate::output::LEGEND)?;
    for (q, name) in crate::output::tables(result).zip(&names) {
        let batch = query_batch(q)?;
        let sheet = book.add_worksheet().set_name(name)?;
        for (c, f) in batch.schema().fields().iter().enumerate() {
            sheet.write_string_with_format(0, c as u16, f.name(), &bold)?;
        }
        for r in 0..batch.num_rows() {
            for c in 0..batch.num_columns() {
                let (row, col) = (r as u32 + 1, c as u16);
                match json_value(&batch, c, r) {
                    serde_json::Value::Number(n) => {
                        sheet.write_number(row, col, n.as_f64().unwrap_or(f64::NAN))?;
                    }
                    serde_json::Value::String(s) => {
                        sheet.write_string(row, col, s)?;
                    }
                    _ => {} // withheld: left empty, its `diffusion` says why
                }
            }
        }
        let measures = measure_columns(&batch.schema());
        let charted = crate::report::charted(&batch, &measures);
        if let Some(&(m, lo, hi)) = measures.get(charted) {
            let pivot = crate::pivot::pivot(&batch, m, (lo, hi));
            if let Some(plan) = choose::plan(&pivot) {
                let first = batch.num_columns() as u16 + 1;
                chart(sheet, name, &q.title, &plan, first, &bold)?;
            }
        }
    }
    book.save(path)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Writes the regional values `plan` charts from column `first` (a title, a header, a row per
/// category, a column per series; withheld values left empty) and a native chart of them below.
/// A pyramid's women are written negative, so that Excel draws them on the left.
fn chart(
    sheet: &mut Worksheet,
    name: &str,
    title: &str,
    plan: &Plan,
    first: u16,
    bold: &CellFormat,
) -> anyhow::Result<()> {
    sheet.write_string_with_format(0, first, title, bold)?;
    let mut row: u32 = 1;
    let mut charts = Vec::new();
    for panel in &plan.panels {
        let header = row;
        sheet.write_string_with_format(header, first, &panel.name, bold)?;
        for (k, serie) in panel.series.iter().enumerate() {
            sheet.write_string_with_format(header, first + 1 + k as u16, &serie.name, bold)?;
        }
        for (i, category) in panel.categories.iter().enumerate() {
            let r = header + 1 + i as u32;
            sheet.write_string(r, first, category)?;
            for (k, serie) in panel.series.iter().enumerate() {
                if let Some(Bar::Value(v)) = serie.values.get(i) {
                    let sign = if plan.kind == Kind::Pyramid && k == 0 {
                        -1.0
                    } else {
                        1.0
                    };
                    sheet.write_number(r, first + 1 + k as u16, sign * v)?;
                }
            }
        }
        let last = header + panel.categories.len() as u32;
        let mut c = match plan.kind {
            Kind::Lines => Chart::new_line(),
            Kind::Bars | Kind::Pyramid => Chart::new_bar(),
        };
        let heading = if panel.name.is_empty() {
            title.to_string()
        } else {
            format!("{title} — {}", panel.name)
        };
        c.title().set_name(&heading);
        for k in 0..panel.series.len() {
            let col = first + 1 + k as u16;
            let series = c
                .add_series()
                .set_name((name, header, col))
                .set_categories((name, header + 1, first, last, first))
                .set_values((name, header + 1, col, last, col));
            if plan.kind == Kind::Pyramid {
                // The two sexes on one axis, each side of zero.
                series.set_overlap(100).set_gap(10);
            }
        }
        if plan.kind == Kind::Pyramid {
            // Women are written negative to sit on the left; the axis shows them unsigned.
            c.y_axis().set_num_format("#,##0;#,##0");
        }
        charts.push(c);
        row = last + 2;
    }
    for c in &charts {
        sheet.insert_chart(row, first, c)?;
        row += 20;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sheet_names_are_unique_within_31_characters() {
        // Excel reserves "History" for itself.
        let mut used = vec!["Origine".to_string(), "History".to_string()];
        let long = "effectifs_par_categorie_filiere_et_statut";
        assert_eq!(
            sheet_name(long, &mut used),
            "effectifs_par_categorie_filiere"
        );
        assert_eq!(
            sheet_name(long, &mut used),
            "effectifs_par_categorie_filie~2"
        );
        assert_eq!(
            sheet_name(long, &mut used),
            "effectifs_par_categorie_filie~3"
        );
        assert_eq!(sheet_name("origine", &mut used), "origine~2");
        assert_eq!(sheet_name("a/b:c", &mut used), "a_b_c");
        let mut used = vec!["Origine".to_string(), "History".to_string()];
        assert_eq!(sheet_name("history", &mut used), "history~2");
        assert!(used.iter().all(|n| n.chars().count() <= 31));
    }
}
