//! Recording benchmark figures in `BENCHMARKS.md`: each benchmark owns one `## ` section, which
//! a new run replaces, headed by the machine it ran on and the command that reproduces it.

use std::fmt::Write;
use std::path::Path;

/// The machine, as `BENCHMARKS.md` names it: CPU model, cores, memory, OS.
pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|m| m.trim_start_matches([' ', '\t', ':']).trim().to_string())
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_gib = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0 / 1024.0);
    format!(
        "{model}, {cores} cores, {mem_gib:.0} GiB, {} {}",
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

/// A section body: the machine, the date, the command, then `figures`.
pub fn section(command: &str, method: &str, figures: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "- Machine: {}", machine());
    let _ = writeln!(
        s,
        "- Date: {}",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC")
    );
    let _ = writeln!(s, "- Command: `{command}`");
    let _ = writeln!(s, "- Method: {method}\n");
    s.push_str(figures);
    s
}

/// Writes `body` as the `## title` section of the Markdown file at `path`, replacing the
/// section of that title if there is one and keeping every other section.
pub fn record(path: &Path, title: &str, body: &str) -> std::io::Result<()> {
    let existing = std::fs::read_to_string(path).unwrap_or_else(|_| {
        "# Benchmarks\n\nFigures written by the benchmark commands themselves; rerun a \
         command to refresh its section.\n"
            .to_string()
    });
    let heading = format!("## {title}");
    let mut out = String::new();
    let mut skipping = false;
    let mut replaced = false;
    for line in existing.lines() {
        if line.starts_with("## ") {
            skipping = line.trim_end() == heading;
            if skipping {
                push_section(&mut out, &heading, body);
                replaced = true;
            }
        }
        if !skipping {
            out.push_str(line);
            out.push('\n');
        }
    }
    if !replaced {
        push_section(&mut out, &heading, body);
    }
    std::fs::write(path, out)
}

fn push_section(out: &mut String, heading: &str, body: &str) {
    if !out.ends_with("\n\n") {
        out.push('\n');
    }
    out.push_str(heading);
    out.push_str("\n\n");
    out.push_str(body.trim_end());
    out.push_str("\n\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_section_is_replaced_and_the_others_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("BENCHMARKS.md");
        record(&path, "Import", "first\n").unwrap();
        record(&path, "Query", "q\n").unwrap();
        record(&path, "Import", "second\n").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("# Benchmarks"));
        assert!(text.contains("## Import\n\nsecond\n") && !text.contains("first"));
        assert!(text.contains("## Query\n\nq\n"));
        assert_eq!(text.matches("## Import").count(), 1);
    }
}
