//! `handicap_<year>.csv` and `handicap_employeurs_<year>.csv` (Handitorial):
//! the bénéficiaires de l'obligation d'emploi among the agents at 31/12, one
//! row per agent with their category, and each employer of 20 agents or more
//! with its headcount and its beneficiaries (the same agents), from their own
//! PRNG stream.
//!
//! An agent is a beneficiary with a chance rising with age and higher in
//! catégorie C: the 2009 synthesis of the bilans sociaux counted 4.8 % of
//! the agents of the employers subject to the obligation, 2.4 % in catégorie A
//! and more than 90 % of them in catégorie C. The rate has risen since, and
//! the generator aims at about 6.5 % with 7.5 % in catégorie C and 2.5 % in A
//! (an assumption, above the legal 6 %); the categories' shares (RQTH about
//! six in ten, agents reclassés and allocations temporaires d'invalidité
//! next) are assumptions too, to be set from the first real declarations.

use std::io;
use std::path::Path;

use super::sampling::{SynthRng, chance, weighted};
use super::write::{Year, agent_fields, by_agent, header, push_id, push_int, writer, year_digits};
use cdg_shared::catalogue;
use cdg_shared::codes::CATEGORIES_BENEFICIAIRE;

/// Chance of being a beneficiary at 45, by catégorie (A, B, C).
const RATE_AT_45: [f64; 3] = [0.022, 0.04, 0.066];
/// Shares of the categories, in `CATEGORIES_BENEFICIAIRE` order.
const CATEGORY_SHARES: [f64; 8] = [0.58, 0.05, 0.04, 0.08, 0.03, 0.02, 0.16, 0.04];
/// Employers subject to the obligation have this many agents or more.
pub const SUBJECT_FROM: u32 = 20;

/// Writes both files and returns their numbers of data rows (agents, then
/// employers).
pub fn write(paths: (&Path, &Path), y: &Year, rng: &mut SynthRng) -> io::Result<(u64, u64)> {
    let (year, code, pop, employers) = (y.year, y.code, y.pop, y.employers);
    let mut w = writer(paths.0)?;
    w.write_record(header(&catalogue::HANDICAP))?;
    let year_buf = year_digits(year);
    let mut beneficiaries = vec![0u32; employers.len()];
    let mut agents = 0;
    for i in by_agent(pop) {
        let s = &pop.slots[i as usize];
        let age = f64::from(year - s.birth);
        let rate = RATE_AT_45[usize::from(s.categorie).min(2)] * (0.045 * (age - 45.0)).exp();
        if !chance(rng, rate.min(0.5)) {
            continue;
        }
        let e = s.employer as usize;
        agent_fields(&mut w, &year_buf, code, s.agent, employers[e].num)?;
        w.write_field(CATEGORIES_BENEFICIAIRE[weighted(rng, &CATEGORY_SHARES)])?;
        w.write_record(None::<&[u8]>)?;
        beneficiaries[e] += 1;
        agents += 1;
    }
    w.flush()?;

    let mut w = writer(paths.1)?;
    w.write_record(header(&catalogue::HANDICAP_EMPLOYEURS))?;
    let mut order: Vec<usize> = (0..employers.len())
        .filter(|&e| y.headcount[e] >= SUBJECT_FROM)
        .collect();
    order.sort_unstable_by_key(|&e| employers[e].num);
    let mut buf = Vec::new();
    for &e in &order {
        w.write_field(&year_buf)?;
        buf.clear();
        push_id(&mut buf, b'E', code, employers[e].num, 5);
        w.write_field(&buf)?;
        for n in [y.headcount[e], beneficiaries[e]] {
            buf.clear();
            push_int(&mut buf, n.into(), 1);
            w.write_field(&buf)?;
        }
        w.write_record(None::<&[u8]>)?;
    }
    w.flush()?;
    Ok((agents, order.len() as u64))
}
