//! What processes cost, read from `/proc`: CPU time (`utime + stime` of `/proc/<pid>/stat`,
//! every thread included), resident memory now (`VmRSS`) and at its peak (`VmHWM`), and the
//! whole machine's busy time (`/proc/stat`), to say how much of the 2 cores the run took.

use std::time::{Duration, Instant};

/// Clock ticks per second of `/proc` times: `AT_CLKTCK` from our own auxiliary vector (the
/// kernel's `USER_HZ`), 100 if it cannot be read.
pub fn clock_ticks() -> u64 {
    static TICKS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(read_clock_ticks)
}

fn read_clock_ticks() -> u64 {
    const AT_CLKTCK: u64 = 17;
    let Ok(bytes) = std::fs::read("/proc/self/auxv") else {
        return 100;
    };
    let words: Vec<u64> = bytes
        .chunks_exact(8)
        .map(|c| u64::from_ne_bytes(c.try_into().unwrap_or([0; 8])))
        .collect();
    words
        .chunks_exact(2)
        .find(|pair| pair[0] == AT_CLKTCK)
        .map(|pair| pair[1])
        .filter(|ticks| *ticks > 0)
        .unwrap_or(100)
}

/// CPU time a process used so far (user + system, all threads), or `None` once it is gone.
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces: count fields after it.
    let after = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 of stat(5) are utime and stime; `after` starts at field 3.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_secs_f64(
        (utime + stime) as f64 / clock_ticks() as f64,
    ))
}

/// A `VmXXX:` line of `/proc/<pid>/status`, in bytes.
fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: u64 = line[field.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// Peak resident memory of the process so far, in bytes.
pub fn peak_rss(pid: u32) -> Option<u64> {
    status_kib(pid, "VmHWM:")
}

/// Resident memory now, in bytes.
pub fn rss(pid: u32) -> Option<u64> {
    status_kib(pid, "VmRSS:")
}

/// Busy and total jiffies of all CPUs together (`cpu` line of `/proc/stat`).
fn machine_jiffies() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let values: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    let total: u64 = values.iter().take(8).sum();
    let idle = values.get(3)? + values.get(4).copied().unwrap_or(0);
    Some((total - idle, total))
}

/// CPU time so far of every process named `postgres` (the server and its backends, whoever
/// their clients are).
fn postgres_cpu() -> Vec<(u32, Duration)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_string_lossy().parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|comm| comm.trim() == "postgres")
        })
        .filter_map(|pid| Some((pid, cpu_time(pid)?)))
        .collect()
}

/// CPU of a set of processes and of the machine between two instants.
#[derive(Debug, Clone)]
pub struct Window {
    started: Instant,
    machine: Option<(u64, u64)>,
    processes: Vec<(String, u32, Option<Duration>)>,
    postgres: Vec<(u32, Duration)>,
}

/// What a window measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct WindowReport {
    pub seconds: f64,
    /// Share of all cores busy over the window, 0–100.
    pub machine_busy_pct: Option<f64>,
    pub processes: Vec<ProcessReport>,
    /// Every `postgres` process on the machine (ours and anyone else's backends), in % of
    /// one core; counted only for processes alive at both ends of the window.
    pub postgres_cpu_pct_of_core: f64,
    /// What the rest of the machine took (other users' builds and tests included): busy
    /// time minus the listed processes and Postgres, in % of one core. Figures measured while
    /// this is high are not worth much.
    pub other_cpu_pct_of_core: Option<f64>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ProcessReport {
    pub name: String,
    pub pid: u32,
    /// CPU time over the window, in milliseconds.
    pub cpu_ms: Option<f64>,
    /// CPU over the window as a share of one core, 0–100 per core.
    pub cpu_pct_of_core: Option<f64>,
    pub rss_mb: Option<f64>,
    pub peak_rss_mb: Option<f64>,
}

impl WindowReport {
    pub fn process(&self, name: &str) -> Option<&ProcessReport> {
        self.processes.iter().find(|p| p.name == name)
    }

    /// The named process's CPU over the window, in % of one core.
    pub fn cpu_pct_of_core(&self, name: &str) -> Option<f64> {
        self.process(name).and_then(|p| p.cpu_pct_of_core)
    }

    /// The named process's peak resident memory, in MB.
    pub fn peak_rss_mb(&self, name: &str) -> Option<f64> {
        self.process(name).and_then(|p| p.peak_rss_mb)
    }
}

fn mb(bytes: Option<u64>) -> Option<f64> {
    bytes.map(|b| b as f64 / (1024.0 * 1024.0))
}

impl Window {
    /// Starts measuring these `(name, pid)` processes.
    pub fn start(processes: &[(String, u32)]) -> Self {
        Self {
            started: Instant::now(),
            machine: machine_jiffies(),
            postgres: postgres_cpu(),
            processes: processes
                .iter()
                .map(|(name, pid)| (name.clone(), *pid, cpu_time(*pid)))
                .collect(),
        }
    }

    /// Ends the window (the processes must still be alive to be read).
    pub fn finish(&self) -> WindowReport {
        let seconds = self.started.elapsed().as_secs_f64();
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        let machine_busy_pct = match (self.machine, machine_jiffies()) {
            (Some((busy0, total0)), Some((busy1, total1))) if total1 > total0 => {
                Some(100.0 * (busy1 - busy0) as f64 / (total1 - total0) as f64)
            }
            _ => None,
        };
        let postgres_ms: f64 = self
            .postgres
            .iter()
            .filter_map(|(pid, before)| Some(cpu_time(*pid)?.saturating_sub(*before)))
            .map(|d| d.as_secs_f64() * 1000.0)
            .sum();
        let processes = self
            .processes
            .iter()
            .map(|(name, pid, before)| {
                let cpu = match (before, cpu_time(*pid)) {
                    (Some(before), Some(after)) => Some(after.saturating_sub(*before)),
                    _ => None,
                };
                ProcessReport {
                    name: name.clone(),
                    pid: *pid,
                    cpu_ms: cpu.map(|d| d.as_secs_f64() * 1000.0),
                    cpu_pct_of_core: cpu.map(|d| 100.0 * d.as_secs_f64() / seconds.max(1e-9)),
                    rss_mb: mb(rss(*pid)),
                    peak_rss_mb: mb(peak_rss(*pid)),
                }
            })
            .collect::<Vec<ProcessReport>>();
        let ours_ms: f64 = processes.iter().filter_map(|p| p.cpu_ms).sum();
        let other_cpu_pct_of_core = machine_busy_pct.map(|busy| {
            let busy_ms = busy / 100.0 * cores * seconds * 1000.0;
            (100.0 * (busy_ms - ours_ms - postgres_ms) / (seconds * 1000.0)).max(0.0)
        });
        WindowReport {
            seconds,
            machine_busy_pct,
            processes,
            postgres_cpu_pct_of_core: 100.0 * postgres_ms / (seconds * 1000.0).max(1e-9),
            other_cpu_pct_of_core,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_its_own_process() {
        let me = std::process::id();
        assert!(cpu_time(me).is_some());
        assert!(peak_rss(me).unwrap() >= rss(me).unwrap() / 2);
        assert!((50..=1000).contains(&clock_ticks()));
        assert!(machine_jiffies().is_some());
    }
}
