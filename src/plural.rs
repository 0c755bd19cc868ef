//! Counts with their noun in the right number (`1 target`, `2 targets`),
//! for messages written at every layer.
//!
//! A leaf: it imports nothing of the crate, so the lowest modules (`image`,
//! `shard`, `merge`'s errors) can word their messages without reaching up
//! to `report`, which re-exports [`count`] for its own callers.

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
