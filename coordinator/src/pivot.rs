//! A measure of a regional or indicator table as a pivot: one row per cell of its dimensions,
//! one column per département and the region, each cell with its secrecy mark. The terminal
//! (`output.rs`) and the report (`report/`) draw it, each with its own number format.

use std::collections::BTreeMap;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Float64Type, Int64Type};
use cdg_shared::query::{
    DEPARTEMENT_COLUMN, DIFFUSION_COLUMN, REGION, RELEASED, natural_order_all,
};

/// How a cell is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// Released: its value.
    Released,
    /// A regional total of the départements that answered only: `value*`.
    Partial,
    /// A regional total whose withheld départements were summed securely: `value†`.
    Secure,
    /// Under statistical secrecy: `s`.
    Secret,
    /// Known only within bounds: `[a ; b]`, `≥a` or `≤b`.
    Bounded,
    /// An indicator that cannot be computed: `n.c.`.
    Undefined,
    /// No such cell: `-`.
    Missing,
}

/// One cell of a pivot.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub mark: Mark,
    pub value: Option<f64>,
    pub low: Option<f64>,
    pub high: Option<f64>,
    pub status: String,
}

impl Cell {
    const MISSING: Cell = Cell {
        mark: Mark::Missing,
        value: None,
        low: None,
        high: None,
        status: String::new(),
    };

    /// The cell as text, numbers written by `number`.
    pub fn text(&self, number: &dyn Fn(f64) -> String) -> String {
        match self.mark {
            Mark::Released => self.value.map(number).unwrap_or_default(),
            Mark::Partial => format!("{}*", self.value.map(number).unwrap_or_default()),
            Mark::Secure => format!("{}†", self.value.map(number).unwrap_or_default()),
            Mark::Secret => "s".to_string(),
            Mark::Undefined => "n.c.".to_string(),
            Mark::Missing => "-".to_string(),
            Mark::Bounded => match (self.low, self.high) {
                (Some(l), Some(h)) => format!("[{} ; {}]", number(l), number(h)),
                (Some(l), None) => format!("≥{}", number(l)),
                (None, Some(h)) => format!("≤{}", number(h)),
                (None, None) => "s".to_string(),
            },
        }
    }
}

/// One measure of a table, pivoted.
#[derive(Debug, Clone)]
pub struct Pivot {
    /// The measure's column name.
    pub measure: String,
    /// Whether its values are whole numbers (counts).
    pub integer: bool,
    /// The dimensions' names.
    pub dims: Vec<String>,
    /// The départements, then the region.
    pub columns: Vec<String>,
    /// Each cell of the dimensions, in natural order, with a cell per column.
    pub rows: Vec<(Vec<String>, Vec<Cell>)>,
}

fn number(batch: &RecordBatch, col: usize, row: usize) -> Option<f64> {
    let a = batch.column(col);
    if a.is_null(row) {
        return None;
    }
    match a.data_type() {
        DataType::Int64 => Some(a.as_primitive::<Int64Type>().value(row) as f64),
        DataType::Float64 => Some(a.as_primitive::<Float64Type>().value(row)),
        _ => None,
    }
}

fn text(batch: &RecordBatch, col: usize, row: usize) -> String {
    let a = batch.column(col);
    if a.is_null(row) || a.data_type() != &DataType::Utf8 {
        return String::new();
    }
    a.as_string::<i32>().value(row).to_string()
}

/// The mark of a cell from its row's `diffusion`, value and bounds.
fn mark(
    region: bool,
    status: &str,
    value: Option<f64>,
    low: Option<f64>,
    high: Option<f64>,
) -> Mark {
    let bounded = region || status.starts_with(crate::indicators::BOUNDED);
    if status == RELEASED {
        Mark::Released
    } else if value.is_some() && status.starts_with(crate::secure::SECURE) {
        Mark::Secure
    } else if value.is_some() {
        Mark::Partial
    } else if status.starts_with(crate::indicators::UNDEFINED) {
        Mark::Undefined
    } else if !bounded
        || status == crate::merge::REGION_SECRET
        // "≥0" says nothing a secret does not.
        || (low.is_none_or(|l| l <= 0.0) && high.is_none())
    {
        Mark::Secret
    } else {
        Mark::Bounded
    }
}

/// Pivots the measure in column `measure` (its bounds in columns `bounds`).
pub fn pivot(batch: &RecordBatch, measure: usize, bounds: (usize, usize)) -> Pivot {
    let schema = batch.schema();
    let dep = schema.index_of(DEPARTEMENT_COLUMN).unwrap_or(0);
    let diff = schema.index_of(DIFFUSION_COLUMN).unwrap_or(0);
    let dim_cols: Vec<usize> = (dep + 1..diff).collect();
    let mut columns: Vec<String> = Vec::new();
    let mut cells: BTreeMap<Vec<String>, BTreeMap<String, Cell>> = BTreeMap::new();
    for row in 0..batch.num_rows() {
        let d = text(batch, dep, row);
        if !columns.contains(&d) {
            columns.push(d.clone());
        }
        let key: Vec<String> = dim_cols.iter().map(|&c| text(batch, c, row)).collect();
        let status = text(batch, diff, row);
        let value = number(batch, measure, row);
        let (low, high) = (number(batch, bounds.0, row), number(batch, bounds.1, row));
        let cell = Cell {
            mark: mark(d == REGION, &status, value, low, high),
            value,
            low,
            high,
            status,
        };
        cells.entry(key).or_default().insert(d, cell);
    }
    columns.sort_by_key(|c| (c == REGION, c.clone()));
    let mut rows: Vec<(Vec<String>, BTreeMap<String, Cell>)> = cells.into_iter().collect();
    rows.sort_by(|a, b| natural_order_all(&a.0, &b.0));
    let rows = rows
        .into_iter()
        .map(|(key, mut by_dep)| {
            let cells = columns
                .iter()
                .map(|c| by_dep.remove(c).unwrap_or(Cell::MISSING))
                .collect();
            (key, cells)
        })
        .collect();
    Pivot {
        measure: schema.field(measure).name().clone(),
        integer: schema.field(measure).data_type() == &DataType::Int64,
        dims: dim_cols
            .iter()
            .map(|&c| schema.field(c).name().clone())
            .collect(),
        columns,
        rows,
    }
}

impl Pivot {
    /// The column of the region, when the table has one.
    pub fn region(&self) -> Option<usize> {
        self.columns.iter().position(|c| c == REGION)
    }

    /// The column of the whole study's figures: the region's, or the one département's of a
    /// departmental study.
    pub fn whole(&self) -> Option<usize> {
        self.region()
            .or_else(|| (self.columns.len() == 1).then_some(0))
    }
}
