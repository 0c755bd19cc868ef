//! Reading a whole file or stream into memory, never more than a cap.
//!
//! Part of `package`. The manifest, the checksums file, image manifests and
//! repository records are read whole; each has a size no honest file comes
//! near, and a hostile or growing one must not take the memory. This is the
//! one read that enforces it: the caller checks the file's length first
//! when it has one, and this stops one byte past the cap whatever the
//! length said.

use std::io::{self, Read};

/// The bytes of `reader`, or `None` when it holds more than `cap`. At most
/// `cap + 1` bytes are read; `size_hint` (a file's length) only sizes the
/// buffer.
pub fn read_to_end(reader: impl Read, cap: u64, size_hint: u64) -> io::Result<Option<Vec<u8>>> {
    let mut bytes = Vec::with_capacity(usize::try_from(size_hint.min(cap)).unwrap_or(0));
    reader.take(cap.saturating_add(1)).read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= cap).then_some(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_up_to_the_cap_and_refuses_past_it() {
        assert_eq!(
            read_to_end(&b"abc"[..], 3, 0).unwrap(),
            Some(b"abc".to_vec())
        );
        assert_eq!(read_to_end(&b"abcd"[..], 3, 4).unwrap(), None);
        // An endless stream is cut one byte past the cap.
        assert_eq!(read_to_end(io::repeat(7), 1 << 20, 0).unwrap(), None);
    }
}
