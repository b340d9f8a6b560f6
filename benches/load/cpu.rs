//! CPU accounting over a phase, to tell a slow server from a busy machine: the server's own
//! ticks, every PostgreSQL process's (on this machine the database is part of the system under
//! test), this driver's, interrupt time (loopback TCP runs in softirq context, which no process
//! is charged for), and what other processes took meanwhile.

use std::time::Instant;

/// Clock ticks per second of /proc times (USER_HZ; 100 on every Linux x86-64 and arm64 build).
const TICKS: f64 = 100.0;

fn proc_ticks(pid: &str) -> u64 {
    let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    let Some((_, rest)) = s.rsplit_once(')') else {
        return 0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 of stat (utime, stime); `rest` starts at field 3.
    let get = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    get(11) + get(12)
}

/// (busy in processes, busy in interrupt and softirq context, total) ticks over all CPUs.
/// Loopback TCP is processed in softirq context, which no process is charged for.
fn machine_ticks() -> (u64, u64, u64) {
    let s = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = s.lines().next() else {
        return (0, 0, 0);
    };
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let f = |i: usize| v.get(i).copied().unwrap_or(0);
    let total: u64 = v.iter().take(8).sum();
    let irq = f(5) + f(6);
    (total - f(3) - f(4) - irq, irq, total)
}

/// CPU ticks of every PostgreSQL process: on this machine the database server is part of the
/// system under test, not a neighbour.
fn postgres_ticks() -> u64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    dir.filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            name.bytes().all(|b| b.is_ascii_digit()).then_some(name)
        })
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "postgres")
        })
        .map(|pid| proc_ticks(&pid))
        .sum()
}

pub struct CpuMeter {
    pid: String,
    server: u64,
    postgres: u64,
    me: u64,
    machine: (u64, u64, u64),
    at: Instant,
}

impl CpuMeter {
    pub fn start(pid: u32) -> CpuMeter {
        let pid = pid.to_string();
        CpuMeter {
            server: proc_ticks(&pid),
            postgres: postgres_ticks(),
            me: proc_ticks("self"),
            machine: machine_ticks(),
            at: Instant::now(),
            pid,
        }
    }

    /// "server X cores (Y ms CPU/op), postgres P, load driver Z, other processes W" over the
    /// interval. (PostgreSQL backends that exit meanwhile would count as "others".)
    pub fn stop(&self, ops: usize) -> Cpu {
        let secs = self.at.elapsed().as_secs_f64().max(1e-9);
        let server = (proc_ticks(&self.pid) - self.server) as f64 / TICKS;
        let pg = postgres_ticks().saturating_sub(self.postgres) as f64 / TICKS;
        let me = (proc_ticks("self").saturating_sub(self.me)) as f64 / TICKS;
        let (b, irq, t) = machine_ticks();
        let cpus = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1) as f64;
        let span = (t - self.machine.2).max(1) as f64;
        let busy = (b - self.machine.0) as f64 / span * cpus;
        let irq = (irq - self.machine.1) as f64 / span * cpus;
        let others = (busy - (server + pg + me) / secs).max(0.0);
        Cpu {
            text: format!(
                "CPU: server {:.2} cores ({:.1} ms/op), postgres {:.2}, driver {:.2}, kernel irq {:.2}, others {:.2} of {cpus:.0}",
                server / secs,
                1000.0 * server / (ops.max(1) as f64),
                pg / secs,
                me / secs,
                irq,
                others
            ),
            others,
        }
    }
}

/// CPU use over a phase.
pub struct Cpu {
    text: String,
    /// Cores used by processes other than the server and this driver.
    pub others: f64,
}

impl std::fmt::Display for Cpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}
