//! Versioned slices without copying rows. Each import writes its (dataset, year) slice into a
//! table of its own, `<table>__<year>_v<version>` (the import's checked table itself); the dataset's name is a view over the active
//! slices (and an empty `<table>__schema` table, so the view exists before any load). Replacing
//! a slice or rolling it back only changes which tables the view reads: the replaced slice
//! stays, untouched, until the next import of that slice drops it.

use cdg_shared::proto::v1::DataVersion;
use duckdb::{Connection, OptionalExt, Transaction, params};

use super::SliceSource;
use crate::catalogue::Dataset;
use crate::error::{NodeError, Result};

/// The column of each row's record key (cell key method, `disclosure/noise.rs`), computed at import
/// from the node's secret; the view carries it for the aggregates, never as a dimension.
pub const RECORD_KEY: &str = "record_key";

/// Whether the row is the first of its unit (agent, employer...) in its slice. Within one year,
/// `SUM(unit_first)` is a lower bound of a cell's distinct units and `COUNT(*)` an upper one:
/// when they agree (or both sit on the same side of the threshold) no `COUNT(DISTINCT ...)` is
/// needed, which is most of the cost of an aggregate.
pub const UNIT_FIRST: &str = "unit_first";

/// The empty table that gives a dataset its columns.
pub fn schema_table(dataset: &Dataset) -> String {
    format!("{}__schema", dataset.table)
}

/// The table of one version of a slice. Besides the dataset's columns it keeps each row's
/// source `line` (and the import's `values_ok` flag); the dataset's view shows the columns only.
pub fn slice_table(dataset: &Dataset, year: i32, version: i32) -> String {
    format!("{}__{year}_v{version}", dataset.table)
}

/// A database written before slices had their own tables holds a base table under the
/// dataset's name; say so rather than fail on the view.
pub fn refuse_old_layout(conn: &Connection, dataset: &Dataset) -> Result<()> {
    let base: Option<String> = conn
        .query_row(
            "SELECT table_name FROM information_schema.tables \
             WHERE table_name = ? AND table_type = 'BASE TABLE'",
            params![dataset.table],
            |r| r.get(0),
        )
        .optional()?;
    // Slices written by an earlier version lack what this one stores (`unit_first`, a column
    // the catalogue gained since, such as `metier`), and so does their schema table.
    let mut stmt =
        conn.prepare("SELECT column_name FROM information_schema.columns WHERE table_name = ?")?;
    let stored: Vec<String> = stmt
        .query_map(params![schema_table(dataset)], |r| r.get(0))?
        .collect::<std::result::Result<_, _>>()?;
    let missing: Vec<&str> = dataset
        .columns
        .iter()
        .map(|c| c.name)
        .chain([UNIT_FIRST])
        .filter(|c| !stored.iter().any(|s| s == c))
        .collect();
    if base.is_some() || (!stored.is_empty() && !missing.is_empty()) {
        return Err(NodeError::Internal(format!(
            "this database stores {} in the layout of an earlier version of cdg-node{}: move the \
             file aside and import the data again (cdg-node import-dir)",
            dataset.table,
            if missing.is_empty() {
                String::new()
            } else {
                format!(" (without {})", missing.join(", "))
            }
        )));
    }
    Ok(())
}

/// Points the dataset's view at its active slices.
pub fn refresh_view(conn: &Connection, dataset: &Dataset) -> Result<()> {
    let mut stmt = conn.prepare(
        "SELECT annee, version FROM data_versions WHERE dataset = ? AND active ORDER BY annee",
    )?;
    let active = stmt
        .query_map(params![dataset.name], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<std::result::Result<Vec<(i32, i32)>, _>>()?;
    let mut columns: Vec<&str> = dataset.columns.iter().map(|c| c.name).collect();
    columns.push(RECORD_KEY);
    columns.push(UNIT_FIRST);
    let columns = columns.join(", ");
    let mut parts = vec![format!("SELECT {columns} FROM {}", schema_table(dataset))];
    for (year, version) in active {
        parts.push(format!(
            "SELECT {columns} FROM {}",
            slice_table(dataset, year, version)
        ));
    }
    conn.execute_batch(&format!(
        "CREATE OR REPLACE VIEW {} AS {}",
        dataset.table,
        parts.join(" UNION ALL ")
    ))?;
    Ok(())
}

fn version_of(tx: &Transaction, table: &str, dataset: &Dataset, year: i32) -> Result<Option<i32>> {
    let filter = if table == "data_versions" {
        " AND active"
    } else {
        ""
    };
    Ok(tx
        .query_row(
            &format!("SELECT version FROM {table} WHERE dataset = ? AND annee = ?{filter}"),
            params![dataset.name, year],
            |r| r.get(0),
        )
        .optional()?)
}

/// The number the next import of the (dataset, year) slice gets.
pub fn next_version(tx: &Transaction, dataset: &Dataset, year: i32) -> Result<i32> {
    Ok(tx.query_row(
        "SELECT COALESCE(MAX(version), 0) + 1 FROM data_versions WHERE dataset = ? AND annee = ?",
        params![dataset.name, year],
        |r| r.get(0),
    )?)
}

/// Within `tx`, makes `version` (whose table the import has filled) the active version of the
/// (dataset, year) slice, keeps the replaced version for rollback (dropping the one kept before
/// it) and records the new data version.
pub fn activate(
    tx: &Transaction,
    dataset: &Dataset,
    year: i32,
    version: i32,
    source: &SliceSource,
) -> Result<DataVersion> {
    let rows: i64 = tx.query_row(
        &format!(
            "SELECT count(*) FROM {}",
            slice_table(dataset, year, version)
        ),
        [],
        |r| r.get(0),
    )?;
    let current = version_of(tx, "data_versions", dataset, year)?;
    if let Some(old) = version_of(tx, "slice_previous", dataset, year)?
        && Some(old) != current
    {
        tx.execute_batch(&format!(
            "DROP TABLE IF EXISTS {}",
            slice_table(dataset, year, old)
        ))?;
    }
    tx.execute(
        "DELETE FROM slice_previous WHERE dataset = ? AND annee = ?",
        params![dataset.name, year],
    )?;
    if let Some(current) = current {
        tx.execute(
            "INSERT INTO slice_previous VALUES (?, ?, ?)",
            params![dataset.name, year, current],
        )?;
    }
    tx.execute(
        "UPDATE data_versions SET active = false WHERE dataset = ? AND annee = ?",
        params![dataset.name, year],
    )?;
    let loaded_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    tx.execute(
        "INSERT INTO data_versions VALUES (?, ?, ?, ?, ?, ?, ?, true)",
        params![
            dataset.name,
            year,
            version,
            source.digest,
            rows,
            loaded_at,
            source.file_name
        ],
    )?;
    refresh_view(tx, dataset)?;
    Ok(DataVersion {
        dataset: dataset.name.to_string(),
        year,
        digest: source.digest.clone(),
        rows: rows as u64,
        loaded_at,
        source: source.file_name.clone(),
    })
}

/// Within `tx`, makes the kept previous version of the slice active again and keeps the
/// current one as the previous.
pub fn rollback(tx: &Transaction, dataset: &Dataset, year: i32) -> Result<()> {
    let current = version_of(tx, "data_versions", dataset, year)?;
    let previous = version_of(tx, "slice_previous", dataset, year)?;
    let (Some(current), Some(target)) = (current, previous) else {
        return Err(NodeError::Import(format!(
            "{} {year}: no previous version is kept, nothing to roll back to (see `cdg-node data status`)",
            dataset.name
        )));
    };
    tx.execute(
        "UPDATE data_versions SET active = (version = ?) WHERE dataset = ? AND annee = ?",
        params![target, dataset.name, year],
    )?;
    tx.execute(
        "UPDATE slice_previous SET version = ? WHERE dataset = ? AND annee = ?",
        params![current, dataset.name, year],
    )?;
    refresh_view(tx, dataset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::AGENTS;

    /// A database written before the catalogue gave agents their `metier` is refused with what
    /// to do, not with DuckDB's "column not found" when the view is made.
    #[test]
    fn a_database_of_an_earlier_catalogue_is_refused_naming_what_it_lacks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.duckdb");
        drop(crate::store::Store::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(&format!(
            "ALTER TABLE {} DROP COLUMN metier",
            schema_table(&AGENTS)
        ))
        .unwrap();
        drop(conn);
        let err = crate::store::Store::open(&path).err().unwrap().to_string();
        assert!(
            err.contains("earlier version of cdg-node (without metier)")
                && err.contains("import the data again"),
            "{err}"
        );
    }
}
