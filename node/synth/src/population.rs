//! The simulated population and its yearly dynamics.

use rand::Rng;

use super::draw::{self, Kind, Slot, VACANT};
use super::employers::Employer;
use super::params::{
    CONTRACTUEL_BY_FILIERE, CONTRACTUEL_HIRE_FACTOR, CONTRACTUEL_NON_PERMANENT,
    CONTRACTUEL_PERMANENT, CONTRACTUEL_TO_STAGIAIRE, EXIT_RATE, F_IS, INTERNAL_MUTATION_SHARE,
    MUTATION_HIRE_SHARE, NF, NON_PERMANENT_HIRE_SHARE, NON_PERMANENT_TO_PERMANENT, NT,
    RETIREMENT_HAZARD, SPP_EXTRA_HAZARD, STAGIAIRE, TITULAIRE, TITULARISATION_RATE,
};
use super::sampling::{SynthRng, chance};

/// Agent numbers have 7 digits.
const ID_SPACE: u32 = 10_000_000;
/// Employer index marking a post suppressed this year.
const REMOVED: u32 = u32::MAX;
/// Oldest age present at 31/12.
pub const MAX_AGE: i32 = 67;

/// Draws unique 7-digit agent numbers at random (pseudonyms that tell
/// nothing about the order of hiring).
struct IdPool {
    used: Vec<u64>,
}

impl IdPool {
    fn new() -> Self {
        IdPool {
            used: vec![0; (ID_SPACE as usize).div_ceil(64)],
        }
    }

    /// A fresh number in `1..ID_SPACE`. The caller keeps the number of draws
    /// well below `ID_SPACE` (checked in `generate`), so this terminates fast.
    fn draw(&mut self, rng: &mut SynthRng) -> u32 {
        loop {
            let n = rng.random_range(1..ID_SPACE);
            let (w, b) = ((n / 64) as usize, n % 64);
            if self.used[w] & (1 << b) == 0 {
                self.used[w] |= 1 << b;
                return n;
            }
        }
    }
}

/// Why a person arrived at or left an employer during the year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// Retirement (hazard by age, everyone after [`MAX_AGE`]).
    Retirement,
    /// Any other departure; the motif is drawn from the statut.
    Exit,
    /// Departure for another employer of the département: the next move
    /// recorded is the same agent's [`Cause::MutationIn`].
    MutationOut,
    /// Arrival from another employer of the département.
    MutationIn,
    /// Arrival from outside the CDG's employers (hire, or a titulaire
    /// arriving by mutation or détachement with [`Kind::HireMutation`]).
    Hire(Kind),
}

/// One arrival or departure, with the person's situation at the time.
#[derive(Debug, Clone, Copy)]
pub struct Move {
    pub cause: Cause,
    pub agent: u32,
    /// Index of the employer arrived at or left.
    pub employer: u32,
    pub statut: u8,
    pub categorie: u8,
    pub filiere: u8,
    /// Index of the cadre d'emplois (see `draw::cadre_of`).
    pub cadre: u8,
    pub sexe: u8,
    pub birth: i32,
    /// For a hire, the months paid in the year (hired in month 13 - months).
    pub months: u8,
}

impl Move {
    fn of(cause: Cause, s: &Slot) -> Move {
        Move {
            cause,
            agent: s.agent,
            employer: s.employer,
            statut: s.statut,
            categorie: s.categorie,
            filiere: s.filiere,
            cadre: s.cadre,
            sexe: s.sexe,
            birth: s.birth,
            months: s.months,
        }
    }

    /// Whether it is an arrival (otherwise a departure).
    pub fn is_arrival(&self) -> bool {
        matches!(self.cause, Cause::MutationIn | Cause::Hire(_))
    }
}

/// Every post of the CDG's employers with the person holding it.
pub struct Population {
    /// The posts, in a stable order (creation order, minus suppressions).
    pub slots: Vec<Slot>,
    employer_ty: Vec<u8>,
    employer_size: Vec<u32>,
    /// Posts per employer (occupied or not).
    posts: Vec<u32>,
    filieres: [[f64; NF]; NT],
    ids: IdPool,
    /// The arrivals and departures of the last year simulated, in the order
    /// they happened in the simulation. Recording them draws nothing.
    pub moves: Vec<Move>,
}

impl Population {
    /// The cross-section of `year`: every employer filled to its initial
    /// size with people drawn from the stock profiles.
    pub fn new(employers: &[Employer], year: i32, rng: &mut SynthRng) -> Self {
        let mut per_type = [0.0; NT];
        for e in employers {
            per_type[usize::from(e.ty)] += f64::from(e.initial_size);
        }
        let mut pop = Population {
            slots: Vec::new(),
            employer_ty: employers.iter().map(|e| e.ty).collect(),
            employer_size: employers.iter().map(|e| e.initial_size).collect(),
            posts: employers.iter().map(|e| e.initial_size).collect(),
            filieres: draw::fit_filieres(&per_type),
            ids: IdPool::new(),
            moves: Vec::new(),
        };
        let total: u32 = pop.employer_size.iter().sum();
        pop.slots.reserve(total as usize + total as usize / 20);
        for (i, e) in employers.iter().enumerate() {
            for _ in 0..e.initial_size {
                let mut slot = draw::post(rng, &pop.filieres, i as u32, e.ty, e.initial_size);
                let f = usize::from(slot.filiere);
                let (statut, kind) = if chance(rng, CONTRACTUEL_BY_FILIERE[f]) {
                    let st = if chance(rng, 0.32) {
                        CONTRACTUEL_NON_PERMANENT
                    } else {
                        CONTRACTUEL_PERMANENT
                    };
                    (st, Kind::StockContractuel)
                } else if chance(rng, 0.03) {
                    (STAGIAIRE, Kind::StockFonctionnaire)
                } else {
                    (TITULAIRE, Kind::StockFonctionnaire)
                };
                let id = pop.ids.draw(rng);
                draw::person(rng, &mut slot, id, statut, kind, year);
                pop.slots.push(slot);
            }
        }
        pop
    }

    /// Moves the population from 31/12 of `year - 1` to 31/12 of `year`,
    /// ending with `target` agents: everyone ages by a year; retirements,
    /// other exits and statut changes happen; the size changes by creating
    /// or suppressing posts; every vacancy is filled by a hire or by the
    /// mutation of an agent of another employer (whose post is then filled
    /// in turn).
    pub fn advance(&mut self, year: i32, target: usize, rng: &mut SynthRng) {
        let mut vacancies: Vec<u32> = Vec::new();
        self.moves.clear();
        for (i, s) in self.slots.iter_mut().enumerate() {
            s.touched = false;
            s.months = 12;
            let age = year - s.birth;
            let mut hazard = if age >= 55 {
                RETIREMENT_HAZARD[(age - 55).min(12) as usize]
            } else {
                0.0
            };
            if s.filiere == F_IS && age >= 57 {
                hazard += SPP_EXTRA_HAZARD;
            }
            // Same draws, in the same order, as `a || chance(h) || chance(e)`.
            let retires = age > MAX_AGE || chance(rng, hazard);
            if retires || chance(rng, EXIT_RATE[usize::from(s.statut)]) {
                let cause = if retires {
                    Cause::Retirement
                } else {
                    Cause::Exit
                };
                self.moves.push(Move::of(cause, s));
                s.agent = VACANT;
                vacancies.push(i as u32);
                continue;
            }
            match s.statut {
                STAGIAIRE if chance(rng, TITULARISATION_RATE) => s.statut = TITULAIRE,
                CONTRACTUEL_PERMANENT if chance(rng, CONTRACTUEL_TO_STAGIAIRE) => {
                    s.statut = STAGIAIRE;
                }
                CONTRACTUEL_NON_PERMANENT => {
                    if chance(rng, NON_PERMANENT_TO_PERMANENT) {
                        s.statut = CONTRACTUEL_PERMANENT;
                    } else if chance(rng, 0.02) {
                        s.statut = STAGIAIRE;
                    }
                }
                _ => {}
            }
            if s.quotite == 100 && chance(rng, 0.03) {
                s.partiel = if s.partiel == 100 {
                    draw::temps_partiel(rng)
                } else {
                    100
                };
            }
        }
        self.resize(target, &mut vacancies, rng);
        let mut q = 0;
        while q < vacancies.len() {
            let i = vacancies[q] as usize;
            q += 1;
            if self.slots[i].employer != REMOVED {
                self.fill(i, year, rng, &mut vacancies);
            }
        }
        self.slots.retain(|s| s.employer != REMOVED);
    }

    /// Creates posts (at employers drawn in proportion to their size) or
    /// suppresses vacant posts (never an employer's last one) to reach
    /// `target` posts.
    fn resize(&mut self, target: usize, vacancies: &mut Vec<u32>, rng: &mut SynthRng) {
        let current = self.slots.len();
        if target > current {
            for _ in current..target {
                let e = self.slots[rng.random_range(0..self.slots.len())].employer;
                let (ty, size) = (self.employer_ty[e as usize], self.employer_size[e as usize]);
                let slot = draw::post(rng, &self.filieres, e, ty, size);
                self.posts[e as usize] += 1;
                vacancies.push(self.slots.len() as u32);
                self.slots.push(slot);
            }
        } else {
            let mut to_remove = current - target;
            let mut k = 0;
            while to_remove > 0 && k < vacancies.len() {
                let r = rng.random_range(k..vacancies.len());
                vacancies.swap(k, r);
                let i = vacancies[k] as usize;
                k += 1;
                let e = self.slots[i].employer as usize;
                if self.posts[e] > 1 {
                    self.posts[e] -= 1;
                    self.slots[i].employer = REMOVED;
                    to_remove -= 1;
                }
            }
        }
    }

    /// Fills the vacant post `i` in `year`.
    fn fill(&mut self, i: usize, year: i32, rng: &mut SynthRng, vacancies: &mut Vec<u32>) {
        let f = usize::from(self.slots[i].filiere);
        let p_contractuel = (CONTRACTUEL_BY_FILIERE[f] * CONTRACTUEL_HIRE_FACTOR).min(0.9);
        let (statut, kind) = if chance(rng, p_contractuel) {
            let st = if chance(rng, NON_PERMANENT_HIRE_SHARE) {
                CONTRACTUEL_NON_PERMANENT
            } else {
                CONTRACTUEL_PERMANENT
            };
            (st, Kind::HireContractuel)
        } else if chance(rng, MUTATION_HIRE_SHARE) {
            if chance(rng, INTERNAL_MUTATION_SHARE) && self.mutate_into(i, rng, vacancies) {
                return;
            }
            (TITULAIRE, Kind::HireMutation)
        } else {
            (STAGIAIRE, Kind::HireStagiaire)
        };
        let id = self.ids.draw(rng);
        let slot = &mut self.slots[i];
        draw::person(rng, slot, id, statut, kind, year);
        slot.months = draw::hire_months(rng);
        slot.touched = true;
        self.moves.push(Move::of(Cause::Hire(kind), slot));
    }

    /// Moves a titulaire of the same filière and catégorie from another
    /// employer into the vacant post `i`, if one is found in a few draws.
    fn mutate_into(&mut self, i: usize, rng: &mut SynthRng, vacancies: &mut Vec<u32>) -> bool {
        let to = self.slots[i];
        for _ in 0..20 {
            let j = rng.random_range(0..self.slots.len());
            let from = self.slots[j];
            if from.agent != VACANT
                && !from.touched
                && from.statut == TITULAIRE
                && from.filiere == to.filiere
                && from.categorie == to.categorie
                && from.employer != to.employer
                && from.employer != REMOVED
            {
                let slot = &mut self.slots[i];
                slot.agent = from.agent;
                slot.birth = from.birth;
                slot.sexe = from.sexe;
                slot.statut = from.statut;
                slot.partiel = if to.quotite == 100 { from.partiel } else { 100 };
                slot.pay_factor = from.pay_factor;
                slot.months = 12;
                slot.touched = true;
                let arrival = Move::of(Cause::MutationIn, slot);
                self.moves.push(Move::of(Cause::MutationOut, &from));
                self.moves.push(arrival);
                self.slots[j].agent = VACANT;
                vacancies.push(j as u32);
                return true;
            }
        }
        false
    }

    /// Headcount and fonctionnaires (titulaires and stagiaires) per employer.
    pub fn headcounts(&self, n_employers: usize) -> (Vec<u32>, Vec<u32>) {
        let mut all = vec![0u32; n_employers];
        let mut fonct = vec![0u32; n_employers];
        for s in &self.slots {
            all[s.employer as usize] += 1;
            if s.statut == TITULAIRE || s.statut == STAGIAIRE {
                fonct[s.employer as usize] += 1;
            }
        }
        (all, fonct)
    }
}
