//! End to end: `cdg-dev demo` from start to printed results, as a user runs it after the build; and
//! the import benchmark of `cdg-node`, run as its own command.

use std::fmt::Write;
use std::time::Instant;

use super::{BenchOptions, Report, verdict};
use crate::localnet::{LocalNet, run_step};

pub async fn run(net: &LocalNet, opts: &BenchOptions) -> anyhow::Result<Report> {
    let exe = std::env::current_exe()?;
    let workdir = net.work.join("demo");
    let args: Vec<String> = vec![
        "demo".into(),
        "--workdir".into(),
        workdir.display().to_string(),
        "--years".into(),
        opts.years.clone(),
        "--scale".into(),
        opts.scale.to_string(),
    ];
    eprintln!("end-to-end: cdg {}...", args.join(" "));
    let start = Instant::now();
    let out = run_step(&exe, &args).await?;
    let wall = start.elapsed();
    let mut t = String::from("| step | seconds since start |\n|---|---|\n");
    for line in out.lines().filter(|l| l.starts_with('[')) {
        if let Some((time, what)) = line.trim_start_matches('[').split_once(" s] ") {
            let _ = writeln!(t, "| {} | {} |", what.trim(), time.trim());
        }
    }
    let _ = writeln!(
        t,
        "\nWall time of the whole command: {:.1} s; target ≤ 60 s: {}.",
        wall.as_secs_f64(),
        verdict(wall.as_secs_f64() <= 60.0)
    );
    Ok(Report {
        title: "End to end (cdg-dev bench)",
        method: format!(
            "`cdg-dev demo --years {} --scale {}` in a fresh folder, timed by the benchmark from \
             the start of the process to its exit: development certificates, synthetic data of \
             the five CDGs, imports, five nodes and the coordinator started, the study submitted, \
             approved by the five directors, run and printed, the network stopped. The steps are \
             the demo's own timestamps.",
            opts.years, opts.scale
        ),
        figures: t,
    })
}

/// Runs `cdg-node bench-import` on a million-row CSV; it prints and records its own figures.
pub async fn import(net: &LocalNet, opts: &BenchOptions) -> anyhow::Result<()> {
    let mut args = vec![
        "bench-import".to_string(),
        "--rows".into(),
        "1000000".into(),
        "--workdir".into(),
        net.work.join("bench-import").display().to_string(),
    ];
    if let Some(path) = &opts.record {
        args.extend(["--record".into(), path.display().to_string()]);
    }
    eprintln!("import: cdg-node {}...", args.join(" "));
    print!("{}", run_step(&net.node_bin, &args).await?);
    Ok(())
}
