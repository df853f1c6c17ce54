//! Writing the CSV files the way French Excel exports them: `;` separator,
//! UTF-8, a header row, decimal comma, CRLF line endings, fields quoted only
//! when needed.

use cdg_shared::catalogue::{self, Dataset};
use std::fs::File;
use std::io;
use std::path::Path;

use cdg_shared::codes::{
    AFFILIATIONS, CATEGORIES, FILIERES, SEXES, STATUTS, TEMPS_TRAVAIL, TYPES_EMPLOYEUR,
    tranche_effectif,
};

use super::draw::{self, Slot};
use super::employers::Employer;
use super::params::{CONTRACTUEL_NON_PERMANENT, CONTRACTUEL_PERMANENT, PAY_GRID, pay_index};
use super::population::Population;

/// Fonctionnaires from which an employer may leave obligatory affiliation.
const AFFILIATION_THRESHOLD: u32 = 350;

pub(super) fn writer(path: &Path) -> io::Result<csv::Writer<File>> {
    let file = File::create(path)?;
    Ok(csv::WriterBuilder::new()
        .delimiter(b';')
        .terminator(csv::Terminator::CRLF)
        .quote_style(csv::QuoteStyle::Necessary)
        .buffer_capacity(1 << 16)
        .from_writer(file))
}

/// Appends the decimal digits of `n`, left-padded with zeros to `width`.
pub(super) fn push_int(buf: &mut Vec<u8>, mut n: u64, width: usize) {
    let mut digits = [0u8; 20];
    let mut len = 0;
    loop {
        digits[len] = b'0' + (n % 10) as u8;
        len += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf.extend(std::iter::repeat_n(b'0', width.saturating_sub(len)));
    buf.extend(digits[..len].iter().rev());
}

/// Appends a number of hundredths with a decimal comma: 1234 → `12,34`.
fn push_hundredths(buf: &mut Vec<u8>, n: u64) {
    push_int(buf, n / 100, 1);
    buf.push(b',');
    push_int(buf, n % 100, 2);
}

/// Appends an id: a letter, the département code, a zero-padded number.
pub(super) fn push_id(buf: &mut Vec<u8>, letter: u8, code: &str, num: u32, width: usize) {
    buf.push(letter);
    buf.extend_from_slice(code.as_bytes());
    push_int(buf, u64::from(num), width);
}

/// The id of the `n`-th row (from 0) of a yearly file: `letter`, the CDG's code, the year
/// (`year` already written as digits) and `n + 1` on 6 digits, e.g. `M5920240000001`.
pub(super) fn push_row_id(buf: &mut Vec<u8>, letter: u8, code: &str, year: &[u8], n: usize) {
    buf.push(letter);
    buf.extend_from_slice(code.as_bytes());
    buf.extend_from_slice(year);
    push_int(buf, n as u64 + 1, 6);
}

/// ETPR in hundredths: post quotité × paid temps partiel × months paid.
pub fn etpr_hundredths(s: &Slot) -> u64 {
    let x = u64::from(s.quotite) * u64::from(s.partiel) * u64::from(s.months);
    ((x + 600) / 1200).clamp(1, 100)
}

/// Annual gross pay in cents: the catégorie grid by seniority (age − 22,
/// up to 40 years), the person's factor, the point d'indice of the year,
/// 7% less for contractuels, a SMIC-like floor, times the ETPR.
pub fn pay_cents(s: &Slot, year: i32, etpr: u64) -> u64 {
    let seniority = f64::from((year - s.birth - 22).clamp(0, 40));
    let (base, step) = PAY_GRID[usize::from(s.categorie)];
    let contract = if s.statut == CONTRACTUEL_PERMANENT || s.statut == CONTRACTUEL_NON_PERMANENT {
        0.93
    } else {
        1.0
    };
    let index = pay_index(year);
    let full = ((base + step * seniority) * f64::from(s.pay_factor) * contract).max(20_000.0);
    (full * index * etpr as f64).round() as u64
}

/// Writes `employeurs_<year>.csv`; returns the number of data rows.
pub fn employers(
    path: &Path,
    year: i32,
    code: &str,
    employers: &[Employer],
    headcount: &[u32],
    fonctionnaires: &[u32],
) -> io::Result<u64> {
    let mut w = writer(path)?;
    w.write_record(header(&catalogue::EMPLOYEURS))?;
    let mut order: Vec<usize> = (0..employers.len()).collect();
    order.sort_unstable_by_key(|&i| employers[i].num);
    let mut buf = Vec::with_capacity(16);
    for i in order {
        let e = &employers[i];
        buf.clear();
        push_int(&mut buf, year.unsigned_abs().into(), 1);
        w.write_field(&buf)?;
        buf.clear();
        push_id(&mut buf, b'E', code, e.num, 5);
        w.write_field(&buf)?;
        w.write_field(TYPES_EMPLOYEUR[usize::from(e.ty)])?;
        w.write_field(tranche_effectif(headcount[i] as usize))?;
        let aff = if fonctionnaires[i] < AFFILIATION_THRESHOLD {
            0
        } else {
            usize::from(e.large_affiliation)
        };
        w.write_field(AFFILIATIONS[aff])?;
        w.write_record(None::<&[u8]>)?;
    }
    w.flush()?;
    Ok(employers.len() as u64)
}

/// Writes `agents_<year>.csv`, rows sorted by agent id; returns the number
/// of data rows.
pub fn agents(
    path: &Path,
    year: i32,
    code: &str,
    pop: &Population,
    employers: &[Employer],
) -> io::Result<u64> {
    let mut w = writer(path)?;
    w.write_record(header(&catalogue::AGENTS))?;
    let order = by_agent(pop);
    let mut year_buf = Vec::new();
    push_int(&mut year_buf, year.unsigned_abs().into(), 1);
    let mut buf = Vec::with_capacity(32);
    for &i in &order {
        let s = &pop.slots[i as usize];
        w.write_field(&year_buf)?;
        buf.clear();
        push_id(&mut buf, b'A', code, s.agent, 7);
        w.write_field(&buf)?;
        buf.clear();
        push_id(&mut buf, b'E', code, employers[s.employer as usize].num, 5);
        w.write_field(&buf)?;
        w.write_field(STATUTS[usize::from(s.statut)])?;
        w.write_field(CATEGORIES[usize::from(s.categorie)])?;
        w.write_field(FILIERES[usize::from(s.filiere)])?;
        w.write_field(draw::cadre_label(s))?;
        w.write_field(SEXES[usize::from(s.sexe)])?;
        buf.clear();
        push_int(&mut buf, s.birth.unsigned_abs().into(), 1);
        w.write_field(&buf)?;
        w.write_field(TEMPS_TRAVAIL[usize::from(s.quotite < 100)])?;
        let etpr = etpr_hundredths(s);
        buf.clear();
        push_hundredths(&mut buf, etpr);
        w.write_field(&buf)?;
        buf.clear();
        push_hundredths(&mut buf, pay_cents(s, year, etpr));
        w.write_field(&buf)?;
        w.write_record(None::<&[u8]>)?;
    }
    w.flush()?;
    Ok(order.len() as u64)
}

/// What the files of one year are drawn from: the year, the CDG's code, the population at
/// 31/12, the employers and their headcounts (by employer index).
pub struct Year<'a> {
    pub year: i32,
    pub code: &'a str,
    pub pop: &'a Population,
    pub employers: &'a [Employer],
    pub headcount: &'a [u32],
}

/// The slots of the agents at 31/12 in agent-id order, the order of the agents' file.
pub(super) fn by_agent(pop: &Population) -> Vec<u32> {
    let mut order: Vec<u32> = (0..pop.slots.len() as u32).collect();
    order.sort_unstable_by_key(|&i| pop.slots[i as usize].agent);
    order
}

/// The year as the digits every row of a yearly file starts with.
pub(super) fn year_digits(year: i32) -> Vec<u8> {
    let mut buf = Vec::new();
    push_int(&mut buf, year.unsigned_abs().into(), 1);
    buf
}

/// Writes the first fields of a row about an agent: the year (as [`year_digits`]), the
/// agent's id and their employer's (its number, not its index).
pub(super) fn agent_fields(
    w: &mut csv::Writer<File>,
    year: &[u8],
    code: &str,
    agent: u32,
    employer: u32,
) -> io::Result<()> {
    let mut buf = Vec::with_capacity(16);
    w.write_field(year)?;
    push_id(&mut buf, b'A', code, agent, 7);
    w.write_field(&buf)?;
    buf.clear();
    push_id(&mut buf, b'E', code, employer, 5);
    w.write_field(&buf)?;
    Ok(())
}

/// Appends a number of half-days as days with a decimal comma: 5 → `2,5`.
pub(super) fn push_half_days(buf: &mut Vec<u8>, half_days: u32) {
    push_int(buf, u64::from(half_days / 2), 1);
    if half_days % 2 == 1 {
        buf.extend_from_slice(b",5");
    }
}

/// A dataset's header row: the names of the columns a file gives (all but the derived), in
/// catalogue order.
pub fn header(dataset: &Dataset) -> Vec<&'static str> {
    dataset.file_columns().map(|c| c.name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_formats() {
        let mut b = Vec::new();
        push_hundredths(&mut b, 80);
        assert_eq!(b, b"0,80");
        b.clear();
        push_hundredths(&mut b, 2_345_607);
        assert_eq!(b, b"23456,07");
        b.clear();
        push_id(&mut b, b'A', "02", 42, 7);
        assert_eq!(b, b"A020000042");
        b.clear();
        push_int(&mut b, 0, 1);
        assert_eq!(b, b"0");
    }
}
