//! Go's build information, read from a binary's bytes the way `go version
//! -m` reads it: the `\xff Go buildinf:` header, the Go version and the
//! module text (`path`, `mod`, `dep`, `=>`, `build` lines).
//!
//! Only Go 1.18 and later (inline, varint-prefixed strings) are read; older
//! binaries and anything that does not parse give `None`, so a hostile or
//! truncated file yields an SBOM without Go modules, never a panic. Every
//! length and count is bounded.

/// The header's magic, at a 16-byte aligned offset of the file.
const MAGIC: &[u8] = b"\xff Go buildinf:";
/// The header: magic, pointer size, flags, then (Go >= 1.18) the strings.
const HEADER: usize = 32;
/// Flag: version and module text follow the header inline.
const FLAG_INLINE: u8 = 0x2;
/// A Go version string is short; anything longer is not build info.
const MAX_VERSION: u64 = 256;
/// The module text of a large program is tens of KiB.
const MAX_MODINFO: u64 = 4 << 20;
/// Modules and build settings a binary may list.
pub const MAX_LINES: usize = 100_000;

/// A module: path, version and `h1:` sum, as written by the Go linker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    pub path: String,
    pub version: String,
    pub sum: String,
    /// What a `replace` directive swapped the module for.
    pub replace: Option<Box<Module>>,
}

/// What a Go binary says it was built from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BuildInfo {
    /// `go1.22.2`.
    pub go_version: String,
    /// The main package's import path.
    pub path: String,
    pub main: Option<Module>,
    pub deps: Vec<Module>,
    /// `-compiler=gc`, `GOOS=linux`, ... as key and value.
    pub settings: Vec<(String, String)>,
}

/// The build info of `bytes`, or `None` when there is none readable.
pub fn read(bytes: &[u8]) -> Option<BuildInfo> {
    let start = find_header(bytes)?;
    let header = bytes.get(start..start.checked_add(HEADER)?)?;
    if header[15] & FLAG_INLINE == 0 {
        // Go before 1.18: pointers into the data segment; not read.
        return None;
    }
    let mut at = start + HEADER;
    let version = read_string(bytes, &mut at, MAX_VERSION)?;
    let modinfo = read_string(bytes, &mut at, MAX_MODINFO)?;
    let mut info = parse_modinfo(strip_sentinels(modinfo))?;
    info.go_version = String::from_utf8(version.to_vec()).ok()?;
    if !info.go_version.starts_with("go") && !info.go_version.starts_with("devel") {
        return None;
    }
    Some(info)
}

fn find_header(bytes: &[u8]) -> Option<usize> {
    let mut at: usize = 0;
    while at.checked_add(HEADER)? <= bytes.len() {
        if bytes[at..].starts_with(MAGIC) {
            return Some(at);
        }
        at += 16;
    }
    None
}

/// A uvarint-prefixed string at `*at`, no longer than `max`.
fn read_string<'a>(bytes: &'a [u8], at: &mut usize, max: u64) -> Option<&'a [u8]> {
    let mut len: u64 = 0;
    let mut shift = 0u32;
    loop {
        let b = *bytes.get(*at)?;
        *at += 1;
        if shift > 63 {
            return None;
        }
        len |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    if len > max {
        return None;
    }
    let len = usize::try_from(len).ok()?;
    let s = bytes.get(*at..at.checked_add(len)?)?;
    *at += len;
    Some(s)
}

/// The module text sits between two 16-byte sentinels.
fn strip_sentinels(modinfo: &[u8]) -> &[u8] {
    if modinfo.len() >= 33 && modinfo[modinfo.len() - 17] == b'\n' {
        &modinfo[16..modinfo.len() - 16]
    } else {
        modinfo
    }
}

fn module(fields: &[&str]) -> Option<Module> {
    let path = fields.first().filter(|p| !p.is_empty())?;
    Some(Module {
        path: (*path).to_string(),
        version: fields.get(1).unwrap_or(&"").to_string(),
        sum: fields.get(2).unwrap_or(&"").to_string(),
        replace: None,
    })
}

fn parse_modinfo(text: &[u8]) -> Option<BuildInfo> {
    let text = std::str::from_utf8(text).ok()?;
    let mut info = BuildInfo::default();
    for (n, line) in text.lines().enumerate() {
        if n >= MAX_LINES {
            return None;
        }
        let Some((key, rest)) = line.split_once('\t') else {
            continue;
        };
        let fields: Vec<&str> = rest.split('\t').collect();
        match key {
            "path" => info.path = rest.to_string(),
            "mod" => info.main = Some(module(&fields)?),
            "dep" => info.deps.push(module(&fields)?),
            "=>" => {
                let replaced = module(&fields)?;
                let last = info.deps.last_mut().or(info.main.as_mut())?;
                last.replace = Some(Box::new(replaced));
            }
            "build" => {
                let (k, v) = rest.split_once('=').unwrap_or((rest, ""));
                info.settings.push((k.to_string(), unquote(v)));
            }
            _ => {}
        }
    }
    Some(info)
}

/// Build setting values with spaces are quoted like Go strings.
fn unquote(v: &str) -> String {
    match v.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        Some(inner) => inner.replace("\\\"", "\"").replace("\\\\", "\\"),
        None => v.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint(mut n: usize, out: &mut Vec<u8>) {
        while n >= 0x80 {
            out.push((n as u8) | 0x80);
            n >>= 7;
        }
        out.push(n as u8);
    }

    fn binary(version: &str, modinfo: &str) -> Vec<u8> {
        let mut b = vec![0u8; 48];
        b.extend_from_slice(MAGIC);
        b.extend_from_slice(&[8, FLAG_INLINE]);
        b.extend_from_slice(&[0; 16]);
        varint(version.len(), &mut b);
        b.extend_from_slice(version.as_bytes());
        let text = format!("{}{modinfo}{}", "0".repeat(16), "1".repeat(16));
        varint(text.len(), &mut b);
        b.extend_from_slice(text.as_bytes());
        b
    }

    const MODINFO: &str = "path\texample.org/hello\nmod\texample.org/hello\t(devel)\t\ndep\tgolang.org/x/text\tv0.14.0\th1:abc=\n=>\t../text\t\t\nbuild\t-compiler=gc\nbuild\t-ldflags=\"-s -w\"\nbuild\tGOOS=linux\n";

    #[test]
    fn reads_modules_replacements_and_settings() {
        let info = read(&binary("go1.22.2", MODINFO)).unwrap();
        assert_eq!(info.go_version, "go1.22.2");
        assert_eq!(info.path, "example.org/hello");
        assert_eq!(info.main.as_ref().unwrap().version, "(devel)");
        assert_eq!(info.deps.len(), 1);
        assert_eq!(info.deps[0].path, "golang.org/x/text");
        assert_eq!(info.deps[0].sum, "h1:abc=");
        assert_eq!(info.deps[0].replace.as_ref().unwrap().path, "../text");
        assert!(info.settings.contains(&("-ldflags".into(), "-s -w".into())));
        assert!(info.settings.contains(&("GOOS".into(), "linux".into())));
    }

    #[test]
    fn hostile_bytes_give_none_never_a_panic() {
        let good = binary("go1.22.2", MODINFO);
        // Every truncation of a real header.
        for end in 0..good.len() {
            let _ = read(&good[..end]);
        }
        // A header claiming huge or endless lengths.
        let mut huge = vec![0u8; 16];
        huge.extend_from_slice(MAGIC);
        huge.extend_from_slice(&[8, FLAG_INLINE]);
        huge.extend_from_slice(&[0; 16]);
        huge.extend_from_slice(&[0xff; 64]);
        assert_eq!(read(&huge), None);
        // Old-style (pointer) headers, garbage, and empty input.
        let mut old = good.clone();
        old[48 + 15] = 0;
        assert_eq!(read(&old), None);
        assert_eq!(read(b""), None);
        let garbage: Vec<u8> = (0..100_000u32).map(|i| (i * 7919 % 251) as u8).collect();
        assert_eq!(read(&garbage), None);
        // A flipped byte in each position never panics.
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0xa5;
            let _ = read(&bad);
        }
        // Not UTF-8, or a version that is no Go version.
        assert_eq!(read(&binary("\u{1}x", MODINFO)), None);
    }
}
