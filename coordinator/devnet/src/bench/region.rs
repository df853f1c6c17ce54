//! The region as the benchmarks see it: the five nodes with their synthetic data, and the
//! centralized alternative, one node whose DuckDB file holds all five départements.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;

use anyhow::Context;
use cdg_shared::cdg::Cdg;
use futures::future::try_join_all;

use super::{BenchOptions, bench_config};
use crate::localnet::{DataSpec, LocalNet};

/// The name of the centralized node (it serves with CDG 59's certificate).
pub const CENTRAL: &str = "central";

/// The region's running nodes.
pub struct Region {
    /// The five nodes, by CDG.
    pub nodes: Vec<(Cdg, String)>,
    /// The centralized node's address.
    pub central: String,
}

/// The node of `cdg` in the region.
pub fn node_name(cdg: Cdg) -> String {
    format!("node-{}", cdg.code())
}

/// Generates and imports the five départements' data, builds the centralized file from the
/// same CSV files, and starts the six nodes.
pub async fn start(net: &mut LocalNet, opts: &BenchOptions) -> anyhow::Result<Region> {
    let data = DataSpec {
        years: opts.years.clone(),
        scale: opts.scale,
        seed: opts.seed,
    };
    eprintln!(
        "region: generating and importing {} of synthetic data for the five CDGs (scale {})...",
        data.years, data.scale
    );
    let loads = Cdg::ALL.map(|cdg| {
        let (net, data) = (&*net, &data);
        async move {
            net.load_node(cdg, &node_name(cdg), data, &bench_config(false, true))
                .await
        }
    });
    let rows: u64 = try_join_all(loads).await?.iter().sum();
    eprintln!("region: {rows} rows imported; building the centralized file...");

    let central_csv = net.csv_dir(CENTRAL);
    concatenate(net, &central_csv)?;
    let config = net.write_node_config(Cdg::Nord, CENTRAL, &bench_config(false, false))?;
    net.remove_database(CENTRAL);
    let central_rows = net.import_dir(&config, &central_csv).await?;
    eprintln!("region: centralized file holds {central_rows} rows");

    let mut names: Vec<(Cdg, String)> = Cdg::ALL.iter().map(|&c| (c, node_name(c))).collect();
    names.push((Cdg::Nord, CENTRAL.to_string()));
    let mut addresses = net.start_nodes(&names).await?;
    let (_, central) = addresses.pop().context("the centralized node")?;
    Ok(Region {
        nodes: addresses,
        central,
    })
}

/// Writes into `out` each CSV file of the five départements' folders concatenated (the header
/// once). The other formats (Parquet, XLSX) hold datasets the study pack does not read.
fn concatenate(net: &LocalNet, out: &Path) -> anyhow::Result<()> {
    if out.exists() {
        std::fs::remove_dir_all(out)?;
    }
    std::fs::create_dir_all(out)?;
    let first = net.csv_dir(&node_name(Cdg::Aisne));
    for entry in std::fs::read_dir(&first)? {
        let name = entry?.file_name();
        if !name.to_string_lossy().ends_with(".csv") {
            continue;
        }
        let mut writer = std::io::BufWriter::new(std::fs::File::create(out.join(&name))?);
        for (i, cdg) in Cdg::ALL.iter().enumerate() {
            let path = net.csv_dir(&node_name(*cdg)).join(&name);
            let reader = BufReader::new(
                std::fs::File::open(&path).with_context(|| format!("{}", path.display()))?,
            );
            for line in reader.split(b'\n').skip(usize::from(i > 0)) {
                writer.write_all(&line?)?;
                writer.write_all(b"\n")?;
            }
        }
        writer.flush()?;
    }
    Ok(())
}
