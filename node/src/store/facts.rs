//! Facts about the loaded data that change only with an import or a rollback: the active data
//! versions (every answer names them) and each dataset's per-year totals (the complement rule
//! of a year filter reads them). Each is read from the database once after a change and kept
//! in memory; a read that a change overtook is not kept.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use cdg_shared::proto::v1::DataVersion;

use crate::error::{NodeError, Result};

/// Per year: the distinct units of the year (`SUM(unit_first)`) and its rows.
pub type YearTotals = BTreeMap<i32, (i64, i64)>;

#[derive(Default)]
pub(crate) struct Facts {
    inner: Mutex<Known>,
}

#[derive(Default)]
pub(crate) struct Known {
    /// Changes seen so far.
    generation: u64,
    pub versions: Option<Vec<DataVersion>>,
    pub years: HashMap<&'static str, YearTotals>,
}

impl Facts {
    fn lock(&self) -> Result<MutexGuard<'_, Known>> {
        self.inner
            .lock()
            .map_err(|_| NodeError::Internal("facts lock poisoned".into()))
    }

    /// How many changes were seen: a copy of the data read at one generation is stale at
    /// another.
    pub fn generation(&self) -> u64 {
        self.inner.lock().map_or(u64::MAX, |known| known.generation)
    }

    /// Forgets everything: the data changed, or is about to.
    pub fn forget(&self) {
        if let Ok(mut known) = self.inner.lock() {
            *known = Known {
                generation: known.generation + 1,
                ..Known::default()
            };
        }
    }

    /// The fact `get` picks, or `read` from the database and kept with `put`.
    pub fn get_or_read<T: Clone>(
        &self,
        get: impl Fn(&Known) -> Option<T>,
        read: impl FnOnce() -> Result<T>,
        put: impl FnOnce(&mut Known, T),
    ) -> Result<T> {
        let generation = {
            let known = self.lock()?;
            if let Some(value) = get(&known) {
                return Ok(value);
            }
            known.generation
        };
        let value = read()?;
        let mut known = self.lock()?;
        if known.generation == generation {
            put(&mut known, value.clone());
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_overtaken_by_a_change_is_not_kept() {
        let facts = Facts::default();
        let years = |k: &Known| k.years.get("agents").cloned();
        let put = |k: &mut Known, v: YearTotals| {
            k.years.insert("agents", v);
        };
        let old = YearTotals::from([(2024, (10, 12))]);
        // The data change while the old totals are being read: they are returned, not kept.
        let got = facts
            .get_or_read(
                years,
                || {
                    facts.forget();
                    Ok(old.clone())
                },
                put,
            )
            .unwrap();
        assert_eq!(got, old);
        let new = YearTotals::from([(2024, (11, 13))]);
        assert_eq!(
            facts.get_or_read(years, || Ok(new.clone()), put).unwrap(),
            new
        );
        // Kept now: a second read does not happen.
        assert_eq!(
            facts
                .get_or_read(years, || panic!("read twice"), put)
                .unwrap(),
            new
        );
    }
}
