//! Numbers as people read them: durations, counts with their noun, sizes.
//!
//! Below every stage of the flow, so a job's log line, a config error and
//! the summary table spell them alike; `report` re-exports them.

/// `1.2s`, `2m03s`: short and stable enough for tables.
pub fn duration(d: std::time::Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 60.0 {
        format!("{secs:.1}s")
    } else {
        let s = d.as_secs();
        format!("{}m{:02}s", s / 60, s % 60)
    }
}

/// `1 target`, `2 targets`, `0 targets`: a count with its noun in the
/// right number. English plurals are irregular (`binary`, `binaries`), so
/// the caller names both forms.
pub fn count(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// `812 B`, `1.4 MiB`.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}
