//! How large each free-text field on the wire may be, in one table, checked where a request
//! enters the node's and the coordinator's services (and where a node's answer enters the
//! coordinator): an id, a name or a note then never reaches a log, an audit entry or an error
//! message at whatever size its sender chose.

use std::borrow::Cow;
use std::fmt;

use crate::proto::v1::{self, ExecuteRequest, ExecuteResponse, SignedDecision};
use crate::text;

/// A field of the wire contract and its largest accepted size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// The field as the .proto spells it (`study_id`, `SignedDecision.note`).
    pub name: &'static str,
    /// Largest accepted size: bytes for text and bytes fields, items for repeated ones.
    pub max: usize,
}

/// Study ids are `S-` and 12 hex digits; a little room for what may come.
pub const STUDY_ID: Field = Field::new("study_id", 64);
/// A study's query names (the study file allows 1 to 64 letters, digits, `_` or `-`).
pub const QUERY_NAME: Field = Field::new("query_name", 64);
/// An identity URI (`urn:cdg-hdf:charge-de-mission:59`).
pub const ANALYST: Field = Field::new("analyst", 256);
/// A director's or a chargé.e de mission's note on a decision or a diffusion.
pub const NOTE: Field = Field::new("note", 4096);
/// A study file, as submitted.
pub const STUDY_FILE: Field = Field::new("study_toml", 256 * 1024);
/// The texts of a study file, which its audit entries and results repeat.
pub const STUDY_TITLE: Field = Field::new("title", 512);
pub const STUDY_PURPOSE: Field = Field::new("purpose", 8 * 1024);
pub const DIFFUSION_TERMS: Field = Field::new("diffusion_terms", 8 * 1024);
pub const QUERY_TITLE: Field = Field::new("query.title", 512);
/// A study's canonical encoding sent with each query (JSON of a study file of at most
/// [`STUDY_FILE`]).
pub const STUDY_ENCODING: Field = Field::new("study", 1024 * 1024);
/// Approvals sent with one query: the coordinator sends one; a few more are tolerated.
pub const APPROVALS: Field = Field::new("approvals", 16);

/// The parts of a signed decision.
pub const DECISION_DIGEST: Field = Field::new("SignedDecision.study_digest", 128);
pub const DECISION_KIND: Field = Field::new("SignedDecision.decision", 32);
pub const DECISION_SIGNED_AT: Field = Field::new("SignedDecision.signed_at", 64);
pub const DECISION_NOTE: Field = Field::new("SignedDecision.note", NOTE.max);
pub const DECISION_CERTIFICATE: Field = Field::new("SignedDecision.certificate", 16 * 1024);
pub const DECISION_SIGNATURE: Field = Field::new("SignedDecision.signature", 1024);

/// The names and values of a query: datasets, dimensions, measure columns and filter values
/// are all short words of the catalogue.
pub const DATASET: Field = Field::new("AggregateQuery.dataset", 64);
pub const GROUP_BY: Field = Field::new("AggregateQuery.group_by", 64);
pub const MEASURE_COLUMN: Field = Field::new("Measure.column", 64);
pub const FILTER_DIMENSION: Field = Field::new("Filter.dimension", 64);
pub const FILTER_VALUE: Field = Field::new("Filter.values", 256);

/// What a node says of its answer besides the table.
pub const POLICY_VERSION: Field = Field::new("ExecuteResponse.policy_version", 128);
pub const DATA_VERSIONS: Field = Field::new("ExecuteResponse.data_versions", 1024);
pub const DATA_VERSION_TEXT: Field = Field::new("DataVersion text fields", 256);
pub const SECRET_STATUS: Field = Field::new("SecretBound.status", 256);
pub const RANGE_COLUMN: Field = Field::new("MeasureRange.column", 64);
pub const CATALOGUE_DATASETS: Field = Field::new("Catalogue.datasets", 256);
pub const CATALOGUE_TEXT: Field = Field::new("Catalogue text fields", 128);

/// What a field holds, for the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Bytes,
    Items,
}

/// A field larger than its bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooLarge {
    pub field: &'static str,
    pub size: usize,
    pub max: usize,
    unit: Unit,
    /// The start of a text field, quoted.
    starts: Option<String>,
}

impl fmt::Display for TooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let TooLarge {
            field, size, max, ..
        } = self;
        match self.unit {
            Unit::Bytes => write!(
                f,
                "field `{field}` is {size} bytes long; at most {max} bytes are accepted"
            )?,
            Unit::Items => write!(
                f,
                "field `{field}` has {size} items; at most {max} are accepted"
            )?,
        }
        match &self.starts {
            Some(quoted) => write!(f, " (it starts {quoted})"),
            None => Ok(()),
        }
    }
}

impl std::error::Error for TooLarge {}

impl Field {
    pub const fn new(name: &'static str, max: usize) -> Field {
        Field { name, max }
    }

    fn too_large(&self, size: usize, unit: Unit, starts: Option<String>) -> TooLarge {
        TooLarge {
            field: self.name,
            size,
            max: self.max,
            unit,
            starts,
        }
    }

    /// Checks a text field.
    pub fn check(&self, value: &str) -> Result<(), TooLarge> {
        if value.len() <= self.max {
            return Ok(());
        }
        let start = text::prefix(value, text::QUOTED_BYTES.min(self.max));
        Err(self.too_large(value.len(), Unit::Bytes, Some(format!("{start:?}…"))))
    }

    /// Checks a bytes field.
    pub fn check_bytes(&self, value: &[u8]) -> Result<(), TooLarge> {
        if value.len() <= self.max {
            return Ok(());
        }
        Err(self.too_large(value.len(), Unit::Bytes, None))
    }

    /// Checks a repeated field's number of items.
    pub fn check_items<T>(&self, items: &[T]) -> Result<(), TooLarge> {
        if items.len() <= self.max {
            return Ok(());
        }
        Err(self.too_large(items.len(), Unit::Items, None))
    }

    /// `value` as a log records it: whole when within the bound, else its start and its size.
    pub fn bounded<'a>(&self, value: &'a str) -> Cow<'a, str> {
        text::bounded(value, self.max)
    }
}

/// Checks the parts of a signed decision.
pub fn check_decision(d: &SignedDecision) -> Result<(), TooLarge> {
    DECISION_DIGEST.check(&d.study_digest)?;
    DECISION_KIND.check(&d.decision)?;
    DECISION_SIGNED_AT.check(&d.signed_at)?;
    DECISION_NOTE.check(&d.note)?;
    DECISION_CERTIFICATE.check_bytes(&d.certificate)?;
    DECISION_SIGNATURE.check_bytes(&d.signature)
}

/// Checks the fields of an Execute request around its query (the query's own names are
/// checked where it is converted, [`crate::query`]).
pub fn check_execute(r: &ExecuteRequest) -> Result<(), TooLarge> {
    STUDY_ID.check(&r.study_id)?;
    QUERY_NAME.check(&r.query_name)?;
    ANALYST.check(&r.analyst)?;
    STUDY_ENCODING.check_bytes(&r.study)?;
    APPROVALS.check_items(&r.approvals)?;
    r.approvals.iter().try_for_each(check_decision)
}

/// Checks the names and values of a query.
pub fn check_query(q: &v1::AggregateQuery) -> Result<(), TooLarge> {
    DATASET.check(&q.dataset)?;
    q.group_by.iter().try_for_each(|d| GROUP_BY.check(d))?;
    q.measures
        .iter()
        .try_for_each(|m| MEASURE_COLUMN.check(&m.column))?;
    for f in &q.filters {
        FILTER_DIMENSION.check(&f.dimension)?;
        f.values.iter().try_for_each(|v| FILTER_VALUE.check(v))?;
    }
    Ok(())
}

/// Checks what a node says of its answer besides the table.
pub fn check_answer(r: &ExecuteResponse) -> Result<(), TooLarge> {
    POLICY_VERSION.check(&r.policy_version)?;
    DATA_VERSIONS.check_items(&r.data_versions)?;
    for v in &r.data_versions {
        for text in [&v.dataset, &v.digest, &v.loaded_at, &v.source] {
            DATA_VERSION_TEXT.check(text)?;
        }
    }
    r.secret_bounds
        .iter()
        .try_for_each(|b| SECRET_STATUS.check(&b.status))?;
    r.measure_ranges
        .iter()
        .try_for_each(|m| RANGE_COLUMN.check(&m.column))?;
    if let Some(c) = &r.catalogue {
        CATALOGUE_TEXT.check(&c.version)?;
        CATALOGUE_TEXT.check(&c.digest)?;
        CATALOGUE_DATASETS.check_items(&c.datasets)?;
        for d in &c.datasets {
            CATALOGUE_TEXT.check(&d.name)?;
            CATALOGUE_TEXT.check(&d.digest)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_too_large_is_named_with_its_size_its_limit_and_its_start() {
        let id = format!("S-{}", "é".repeat(500_000));
        let e = STUDY_ID.check(&id).unwrap_err().to_string();
        assert_eq!(
            e,
            format!(
                "field `study_id` is {} bytes long; at most 64 bytes are accepted (it starts \
                 \"S-{}\"…)",
                id.len(),
                "é".repeat(31)
            )
        );
        assert!(STUDY_ID.check("S-0123456789ab").is_ok());
        let e = APPROVALS.check_items(&[0; 17]).unwrap_err().to_string();
        assert_eq!(e, "field `approvals` has 17 items; at most 16 are accepted");
        let e = STUDY_ENCODING
            .check_bytes(&vec![b'{'; 2 << 20])
            .unwrap_err()
            .to_string();
        assert!(!e.contains("{{"), "bytes are not quoted: {e}");
    }

    #[test]
    fn a_request_with_one_oversized_part_is_refused_for_that_part() {
        let ok = ExecuteRequest {
            study_id: "S-0123456789ab".into(),
            query_name: "effectifs".into(),
            approvals: vec![SignedDecision::default()],
            ..Default::default()
        };
        assert!(check_execute(&ok).is_ok());
        let mut big_note = ok.clone();
        big_note.approvals[0].note = "x".repeat(NOTE.max + 1);
        let e = check_execute(&big_note).unwrap_err();
        assert_eq!(e.field, "SignedDecision.note");
        let mut big_name = ok;
        big_name.query_name = "q".repeat(10 << 20);
        assert_eq!(check_execute(&big_name).unwrap_err().field, "query_name");
        assert_eq!(QUERY_NAME.bounded("q"), "q");
        assert_eq!(
            QUERY_NAME.bounded(&big_name.query_name),
            format!("{}… (10485760 bytes)", "q".repeat(64))
        );
    }
}
