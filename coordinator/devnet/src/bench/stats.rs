//! Figures of a benchmark: latency percentiles, and a process's CPU time and memory read from
//! `/proc` (Linux).

use std::time::Duration;

/// Latencies of one series of calls.
#[derive(Debug, Clone, Default)]
pub struct Latencies(Vec<Duration>);

impl Latencies {
    pub fn push(&mut self, d: Duration) {
        self.0.push(d);
    }

    pub fn extend(&mut self, other: Latencies) {
        self.0.extend(other.0);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The `p`-th percentile (0 < p ≤ 100) by nearest rank; zero when empty.
    pub fn percentile(&self, p: f64) -> Duration {
        if self.0.is_empty() {
            return Duration::ZERO;
        }
        let mut sorted = self.0.clone();
        sorted.sort_unstable();
        let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
        sorted[rank.clamp(1, sorted.len()) - 1]
    }

    pub fn p50(&self) -> Duration {
        self.percentile(50.0)
    }
}

/// Milliseconds with one decimal, as the tables show them.
pub fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// CPU time (user + system) a process has used so far.
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces, so split after its ')').
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_micros(
        ticks * 1_000_000 / clock_ticks().max(1),
    ))
}

/// Clock ticks per second of `/proc`'s CPU times.
#[cfg(unix)]
fn clock_ticks() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as u64
}

/// Without Unix there is no `/proc` either: [`cpu_time`] finds nothing before asking.
#[cfg(not(unix))]
fn clock_ticks() -> u64 {
    100
}

/// Resident memory of a process now and at its peak, in MiB (`VmRSS`, `VmHWM`).
pub fn memory_mib(pid: u32) -> Option<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map(|kb| kb / 1024.0)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let mut l = Latencies::default();
        assert_eq!(l.p50(), Duration::ZERO);
        for i in (1..=100).rev() {
            l.push(Duration::from_millis(i));
        }
        assert_eq!(l.p50(), Duration::from_millis(50));
        assert_eq!(l.percentile(95.0), Duration::from_millis(95));
        assert_eq!(l.percentile(99.0), Duration::from_millis(99));
        assert_eq!(l.percentile(100.0), Duration::from_millis(100));
    }

    #[test]
    fn reads_its_own_process() {
        let pid = std::process::id();
        // Burn 100 ms of CPU (several clock ticks) so that the figure cannot be zero.
        let start = std::time::Instant::now();
        let mut x = 0u64;
        while start.elapsed() < Duration::from_millis(100) {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(1));
        }
        assert!(cpu_time(pid).unwrap() > Duration::ZERO);
        let (rss, peak) = memory_mib(pid).unwrap();
        assert!(rss > 0.0 && peak >= rss);
    }
}
