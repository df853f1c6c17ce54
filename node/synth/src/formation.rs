//! `formation_<year>.csv`: the training days of the agents at 31/12, one row
//! per agent, type of training and body, drawn from their own PRNG stream.
//!
//! - intégration: the stagiaires' statutory training (5 days in catégorie C,
//!   10 in A and B), with the CNFPT;
//! - professionnalisation: some fonctionnaires each year (first post, post
//!   with responsibilities), a few days, mostly with the CNFPT;
//! - perfectionnement: the bulk, more often in catégorie A than C, fewer for
//!   non-permanent contractuels; CNFPT, another body or in house;
//! - préparation aux concours: a few agents, more among contractuels on
//!   permanent posts; CPF: rare, long, with another body.
//!
//! Calibration: no regional figure was published for the observatory's
//! five départements; the shares and lengths here give about 2.5 days of
//! training per agent and 4 agents in 10 trained in a year. They are
//! assumptions, to be set from the first real files imported.

use std::io;
use std::path::Path;

use super::params::CAT_C;
use super::sampling::{SynthRng, chance, exponential, weighted};
use super::write::{Year, agent_fields, by_agent, header, push_half_days, writer, year_digits};
use cdg_shared::catalogue;
use cdg_shared::codes::{ORGANISMES_FORMATION, TYPES_FORMATION};

// Indices in `TYPES_FORMATION` and `ORGANISMES_FORMATION`.
const INTEGRATION: usize = 0;
const PROFESSIONNALISATION: usize = 1;
const PERFECTIONNEMENT: usize = 2;
const CONCOURS: usize = 3;
const CPF: usize = 4;
const CNFPT: usize = 0;
const AUTRE: usize = 1;

// Statut indices in `STATUTS`.
const TITULAIRE: u8 = 0;
const STAGIAIRE: u8 = 1;
const PERMANENT: u8 = 2;

/// Chance of a perfectionnement in the year, by catégorie (A, B, C).
const PERFECTIONNEMENT_RATE: [f64; 3] = [0.55, 0.45, 0.3];
/// Where a perfectionnement is taken: CNFPT, another body, in house.
const PERFECTIONNEMENT_BODIES: [f64; 3] = [0.55, 0.3, 0.15];

/// One row: a type of training, its body and its length in half-days.
type Row = (usize, usize, u32);

fn half_days(days: f64) -> u32 {
    ((days * 2.0).round() as u32).clamp(1, 2 * 366)
}

/// The trainings of an agent of `categorie` and `statut`.
fn draw(rng: &mut SynthRng, categorie: u8, statut: u8) -> Vec<Row> {
    let mut rows = Vec::new();
    let fonctionnaire = statut == TITULAIRE || statut == STAGIAIRE;
    if statut == STAGIAIRE && chance(rng, 0.9) {
        let days = if categorie == CAT_C { 5.0 } else { 10.0 };
        rows.push((INTEGRATION, CNFPT, half_days(days)));
    }
    if fonctionnaire && chance(rng, 0.1) {
        let body = if chance(rng, 0.8) { CNFPT } else { AUTRE };
        rows.push((
            PROFESSIONNALISATION,
            body,
            half_days(2.0 + exponential(rng, 2.0)),
        ));
    }
    let mut rate = PERFECTIONNEMENT_RATE[usize::from(categorie).min(2)];
    if statut > PERMANENT {
        rate *= 0.5;
    }
    if chance(rng, rate) {
        let body = weighted(rng, &PERFECTIONNEMENT_BODIES);
        let days = (0.5 + exponential(rng, 4.5)).min(30.0);
        rows.push((PERFECTIONNEMENT, body, half_days(days)));
    }
    let concours = if statut == PERMANENT { 0.08 } else { 0.03 };
    if chance(rng, concours) {
        rows.push((CONCOURS, CNFPT, half_days(2.0 + exponential(rng, 3.0))));
    }
    if chance(rng, 0.012) {
        rows.push((
            CPF,
            AUTRE,
            half_days((1.0 + exponential(rng, 6.0)).min(60.0)),
        ));
    }
    rows
}

/// Writes `formation_<year>.csv` (rows by agent id, then type) and returns
/// the number of data rows.
pub fn write(path: &Path, y: &Year, rng: &mut SynthRng) -> io::Result<u64> {
    let Year {
        year,
        code,
        pop,
        employers,
        ..
    } = *y;
    let mut w = writer(path)?;
    w.write_record(header(&catalogue::FORMATION))?;
    let year_buf = year_digits(year);
    let mut buf = Vec::new();
    let mut n = 0;
    for i in by_agent(pop) {
        let s = &pop.slots[i as usize];
        for (ty, body, half) in draw(rng, s.categorie, s.statut) {
            agent_fields(
                &mut w,
                &year_buf,
                code,
                s.agent,
                employers[s.employer as usize].num,
            )?;
            w.write_field(TYPES_FORMATION[ty])?;
            w.write_field(ORGANISMES_FORMATION[body])?;
            buf.clear();
            push_half_days(&mut buf, half);
            w.write_field(&buf)?;
            w.write_record(None::<&[u8]>)?;
            n += 1;
        }
    }
    w.flush()?;
    Ok(n)
}
