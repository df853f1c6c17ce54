//! `accidents_<year>.csv` (RASSCT): one row per accident de service, accident
//! de trajet or maladie professionnelle of the year, drawn from its own PRNG
//! stream.
//!
//! The accidents with time off work are those of the absences file, so that
//! both files tell the same story: each absence row of those three motifs
//! gives one accident per arrêt, its days split between them. The accidents
//! de service without time off are drawn for every agent from the same
//! accident risk (filière, catégorie, age) as those with.
//!
//! Calibration: the days come from the absences (accidents du travail ≈ 1.5
//! points of the 9.6 % absence rate of territorial agents, Relyens/Sofaxis
//! Panorama 2021). The share of accidents de service without time off
//! ([`SANS_ARRET_SHARE`]) is an assumption, not a published figure: set it
//! from the first real RASSCT files imported.

use std::io;
use std::path::Path;

use super::sampling::{SynthRng, chance};
use super::write::{header, push_id, push_int, push_row_id, writer};
use cdg_shared::catalogue;
use cdg_shared::codes::NATURES_ACCIDENT;

/// Share of the accidents de service that stop no work (an assumption).
const SANS_ARRET_SHARE: f64 = 0.3;

/// What the accidents are drawn from, collected while the absences are drawn.
#[derive(Debug, Default)]
pub struct Exposure {
    /// Accidents with time off: one entry per absence row of an accident motif.
    pub with_arret: Vec<Injury>,
    /// Every agent at 31/12 with their yearly chance of an accident de service
    /// with time off (before personal frailty).
    pub at_risk: Vec<(Who, f64)>,
}

/// An agent and their employer at 31/12, by number.
#[derive(Debug, Clone, Copy)]
pub struct Who {
    pub agent: u32,
    pub employer: u32,
}

/// An absence row of an accident motif.
#[derive(Debug, Clone, Copy)]
pub struct Injury {
    pub who: Who,
    /// Index in [`NATURES_ACCIDENT`].
    pub nature: usize,
    pub arrets: u32,
    pub days: u32,
}

/// One accident of the file.
struct Row {
    who: Who,
    nature: usize,
    days: u32,
}

/// The accidents of the year: those with time off from `exposure`, then
/// those without, ordered by agent.
fn rows(exposure: &Exposure, rng: &mut SynthRng) -> Vec<Row> {
    let mut rows = Vec::new();
    for i in &exposure.with_arret {
        let n = i.arrets.max(1);
        // Every arrêt has at least one day (the absences give days >= arrêts).
        let (base, extra) = (i.days / n, i.days % n);
        for k in 0..n {
            let days = (base + u32::from(k < extra)).max(1);
            rows.push(Row {
                who: i.who,
                nature: i.nature,
                days,
            });
        }
    }
    let odds = SANS_ARRET_SHARE / (1.0 - SANS_ARRET_SHARE);
    for &(who, risk) in &exposure.at_risk {
        if chance(rng, (risk * odds).min(0.5)) {
            rows.push(Row {
                who,
                nature: 0,
                days: 0,
            });
        }
    }
    rows.sort_by_key(|r| (r.who.agent, r.nature, std::cmp::Reverse(r.days)));
    rows
}

/// Writes `accidents_<year>.csv` and returns the number of data rows.
pub fn write(
    path: &Path,
    year: i32,
    code: &str,
    exposure: &Exposure,
    rng: &mut SynthRng,
) -> io::Result<u64> {
    let rows = rows(exposure, rng);
    let mut w = writer(path)?;
    w.write_record(header(&catalogue::ACCIDENTS))?;
    let mut year_buf = Vec::new();
    push_int(&mut year_buf, year.unsigned_abs().into(), 1);
    let mut buf = Vec::with_capacity(32);
    for (n, r) in rows.iter().enumerate() {
        w.write_field(&year_buf)?;
        buf.clear();
        push_row_id(&mut buf, b'X', code, &year_buf, n);
        w.write_field(&buf)?;
        buf.clear();
        push_id(&mut buf, b'A', code, r.who.agent, 7);
        w.write_field(&buf)?;
        buf.clear();
        push_id(&mut buf, b'E', code, r.who.employer, 5);
        w.write_field(&buf)?;
        w.write_field(NATURES_ACCIDENT[r.nature])?;
        buf.clear();
        push_int(&mut buf, r.days.into(), 1);
        w.write_field(&buf)?;
        w.write_record(None::<&[u8]>)?;
    }
    w.flush()?;
    Ok(rows.len() as u64)
}
