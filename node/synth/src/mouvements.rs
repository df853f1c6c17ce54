//! `mouvements_<year>.csv`: the arrivals and departures the population
//! dynamics made in the year (`population.rs` records them as [`Move`]s), with
//! a motif and a date d'effet drawn from their own PRNG stream.
//!
//! Causes and motifs:
//! - retirement → départ `retraite`, effective on the 1st of a month;
//! - other exit → a départ motif drawn by statut ([`EXIT_MOTIFS`]): contracts
//!   mostly end (`fin de contrat`, on the last day of a month, peaks on 30/06,
//!   31/08 and 31/12), titulaires leave by mutation outside the département,
//!   détachement, disponibilité...;
//! - mutation between two employers of the département → a départ and an
//!   arrivée `mutation` of the same agent on the same date;
//! - hire → arrivée `recrutement contractuel`, `concours` or `recrutement
//!   direct` for stagiaires (direct recruitment is the rule in the first
//!   grade of catégorie C), or `mutation`, `détachement entrant`,
//!   `réintégration`, `intégration directe` for titulaires from outside; in
//!   the month the agents file pays them from.
//!
//! A movement carries the agent's cadre d'emplois (the import derives their
//! family of métiers from it). Titularisations and other changes of statut
//! are not movements.

use super::write::header;
use cdg_shared::catalogue;
use std::io;
use std::path::Path;

use chrono::NaiveDate;
use rand::Rng;

use cdg_shared::codes::{CATEGORIES, FILIERES, SEXES, STATUTS};

use super::draw::{Kind, cadre_of};
use super::employers::Employer;
use super::formats::{days_in_month, first_of_month, push_date_fr};
use super::params::{CONTRACTUEL_NON_PERMANENT, CONTRACTUEL_PERMANENT};
use super::population::{Cause, Move};
use super::sampling::{SynthRng, chance, weighted};
use super::write::{push_id, push_int, push_row_id, writer};

/// Départ motifs of an exit other than retirement, and their weights by
/// statut (titulaire, stagiaire, contractuel permanent, non permanent).
pub const EXIT_MOTIFS: [(&str, [f64; 4]); 10] = [
    ("mutation", [36.0, 0.0, 0.0, 0.0]),
    ("détachement sortant", [12.0, 0.0, 0.0, 0.0]),
    ("disponibilité", [24.0, 0.0, 0.0, 0.0]),
    ("démission", [7.0, 40.0, 30.0, 10.0]),
    ("rupture conventionnelle", [6.0, 0.0, 8.0, 0.0]),
    ("fin de contrat", [0.0, 0.0, 50.0, 85.0]),
    ("licenciement", [1.0, 35.0, 5.0, 2.0]),
    ("décès", [6.0, 2.0, 2.0, 0.5]),
    ("transfert de compétences", [2.0, 0.0, 0.0, 0.0]),
    ("autre", [6.0, 23.0, 5.0, 2.5]),
];

/// Arrivée motifs of a titulaire coming from outside the département.
const OUTSIDE_MOTIFS: [(&str, f64); 4] = [
    ("mutation", 55.0),
    ("détachement entrant", 20.0),
    ("réintégration", 15.0),
    ("intégration directe", 10.0),
];

/// Share of stagiaires hired after a concours, by catégorie (A, B, C); the
/// others are recruited directly (first grade of catégorie C).
const CONCOURS_SHARE: [f64; 3] = [0.95, 0.9, 0.35];

/// Relative weights of the months (January to December) of retirements and
/// mutations.
const MONTHS_RETIREMENT: [f64; 12] = [12.0, 7.0, 8.0, 9.0, 8.0, 8.0, 10.0, 7.0, 9.0, 9.0, 7.0, 6.0];
const MONTHS_MUTATION: [f64; 12] = [14.0, 6.0, 7.0, 8.0, 7.0, 8.0, 7.0, 5.0, 16.0, 9.0, 7.0, 6.0];

struct Row {
    date: NaiveDate,
    sens: &'static str,
    motif: &'static str,
    m: Move,
}

/// A date in `month` of `year`: the 1st with probability `p_first`, else any day.
fn day_in(rng: &mut SynthRng, year: i32, month: u32, p_first: f64) -> NaiveDate {
    let first = first_of_month(year, month);
    if chance(rng, p_first) {
        return first;
    }
    let n = rng.random_range(0..days_in_month(year, month));
    first + chrono::Days::new(u64::from(n))
}

/// A month 1..=12 drawn from month weights.
fn month(rng: &mut SynthRng, weights: &[f64; 12]) -> u32 {
    weighted(rng, weights) as u32 + 1
}

/// The date and motif of a departure for another reason than retirement.
fn exit(rng: &mut SynthRng, year: i32, m: &Move) -> (NaiveDate, &'static str) {
    let s = usize::from(m.statut);
    let w: Vec<f64> = EXIT_MOTIFS.iter().map(|(_, w)| w[s]).collect();
    let motif = EXIT_MOTIFS[weighted(rng, &w)].0;
    let date = if motif == "fin de contrat" {
        // The last day of a month: many contracts end with the school year or the civil year.
        let mut w = [5.0; 12];
        w[5] = 15.0;
        w[7] = 20.0;
        w[11] = 25.0;
        let mo = month(rng, &w);
        first_of_month(year, mo) + chrono::Days::new(u64::from(days_in_month(year, mo) - 1))
    } else {
        let mo = rng.random_range(1..=12);
        day_in(rng, year, mo, 0.4)
    };
    (date, motif)
}

/// The motif of a hire from outside the CDG's employers.
fn hire_motif(rng: &mut SynthRng, kind: Kind, categorie: u8) -> &'static str {
    match kind {
        Kind::HireContractuel => "recrutement contractuel",
        Kind::HireStagiaire => {
            if chance(rng, CONCOURS_SHARE[usize::from(categorie).min(2)]) {
                "concours"
            } else {
                "recrutement direct"
            }
        }
        _ => {
            let w: Vec<f64> = OUTSIDE_MOTIFS.iter().map(|(_, w)| *w).collect();
            OUTSIDE_MOTIFS[weighted(rng, &w)].0
        }
    }
}

/// Turns the year's moves into dated rows with a motif.
fn rows(year: i32, moves: &[Move], rng: &mut SynthRng) -> Vec<Row> {
    let mut out = Vec::with_capacity(moves.len());
    let mut paired: Option<NaiveDate> = None;
    for m in moves {
        let (date, motif) = match m.cause {
            Cause::Retirement => (
                first_of_month(year, month(rng, &MONTHS_RETIREMENT)),
                "retraite",
            ),
            Cause::Exit => exit(rng, year, m),
            Cause::MutationOut => {
                let mo = month(rng, &MONTHS_MUTATION);
                let d = day_in(rng, year, mo, 0.8);
                paired = Some(d);
                (d, "mutation")
            }
            Cause::MutationIn => {
                let d = match paired.take() {
                    Some(d) => d,
                    None => {
                        let mo = month(rng, &MONTHS_MUTATION);
                        day_in(rng, year, mo, 0.8)
                    }
                };
                (d, "mutation")
            }
            Cause::Hire(kind) => {
                // Paid from the month of hire: 13 - months.
                let mo = 13 - u32::from(m.months.clamp(1, 12));
                let contract =
                    m.statut == CONTRACTUEL_PERMANENT || m.statut == CONTRACTUEL_NON_PERMANENT;
                let p_first = if contract { 0.5 } else { 0.85 };
                let date = day_in(rng, year, mo, p_first);
                (date, hire_motif(rng, kind, m.categorie))
            }
        };
        let sens = if m.is_arrival() {
            "arrivée"
        } else {
            "départ"
        };
        out.push(Row {
            date,
            sens,
            motif,
            m: *m,
        });
    }
    // By date, departures first; ties keep the simulation's order.
    out.sort_by_key(|r| (r.date, r.sens != "départ"));
    out
}

/// Writes `mouvements_<year>.csv` (rows by date d'effet, ids `M` + CDG code +
/// year + a 6-digit number in that order); returns the number of data rows.
pub fn write(
    path: &Path,
    year: i32,
    code: &str,
    moves: &[Move],
    employers: &[Employer],
    rng: &mut SynthRng,
) -> io::Result<u64> {
    let rows = rows(year, moves, rng);
    let mut w = writer(path)?;
    w.write_record(header(&catalogue::MOUVEMENTS))?;
    let mut year_buf = Vec::new();
    push_int(&mut year_buf, year.unsigned_abs().into(), 1);
    let mut buf = Vec::with_capacity(32);
    for (n, r) in rows.iter().enumerate() {
        w.write_field(&year_buf)?;
        buf.clear();
        push_row_id(&mut buf, b'M', code, &year_buf, n);
        w.write_field(&buf)?;
        buf.clear();
        push_id(&mut buf, b'A', code, r.m.agent, 7);
        w.write_field(&buf)?;
        buf.clear();
        push_id(
            &mut buf,
            b'E',
            code,
            employers[r.m.employer as usize].num,
            5,
        );
        w.write_field(&buf)?;
        buf.clear();
        push_date_fr(&mut buf, r.date);
        w.write_field(&buf)?;
        w.write_field(r.sens)?;
        w.write_field(r.motif)?;
        w.write_field(STATUTS[usize::from(r.m.statut)])?;
        w.write_field(CATEGORIES[usize::from(r.m.categorie)])?;
        w.write_field(FILIERES[usize::from(r.m.filiere)])?;
        w.write_field(cadre_of(r.m.filiere, r.m.categorie, r.m.cadre))?;
        w.write_field(SEXES[usize::from(r.m.sexe)])?;
        buf.clear();
        push_int(&mut buf, r.m.birth.unsigned_abs().into(), 1);
        w.write_field(&buf)?;
        w.write_record(None::<&[u8]>)?;
    }
    w.flush()?;
    Ok(rows.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cdg_shared::codes::{MOTIFS_ARRIVEE, MOTIFS_DEPART};

    #[test]
    fn motifs_are_in_the_code_lists() {
        for (m, w) in EXIT_MOTIFS {
            assert!(MOTIFS_DEPART.contains(&m), "{m}");
            assert!(w.iter().all(|&x| x >= 0.0));
        }
        for s in 0..4 {
            assert!(EXIT_MOTIFS.iter().any(|(_, w)| w[s] > 0.0));
        }
        for (m, _) in OUTSIDE_MOTIFS {
            assert!(MOTIFS_ARRIVEE.contains(&m), "{m}");
        }
        for m in ["recrutement contractuel", "concours", "recrutement direct"] {
            assert!(MOTIFS_ARRIVEE.contains(&m));
        }
    }
}
