//! Reading a pool `.deb`'s control file, natively and bounded.
//!
//! Part of `repo::apt`: [`super::index`] lists every `.deb` of the pool by
//! its control file, and the pool is outside input (anyone who can write
//! to it can plant a file), so nothing here trusts a size or a name. The ar
//! container is read by hand rather than with the `ar` crate, whose reader
//! indexes a GNU name table unchecked (a 76-byte file panics it) and
//! allocates whatever a header claims (a 70-byte file asks for ~9.3 GiB):
//! only `!<arch>\n`, 60-byte headers with short names, decimal sizes no
//! larger than what is left of the file, and the even padding are taken.
//! `control.tar`, `.gz`, `.xz` and `.zst` are read (what dpkg-deb writes),
//! each with its decompressed size and its decoder's memory capped. The
//! fields that become paths or index lines (Package, Version,
//! Architecture) must be what dpkg accepts.

use std::io::{self, Read, Seek, SeekFrom};

use crate::packager::deb::common::{is_dpkg_arch, is_dpkg_version, is_package_name};

/// The most a `.deb`'s control archive may weigh (compressed and not).
pub(super) const MAX_CONTROL_TAR: u64 = 16 << 20;
/// The most the control file itself may weigh.
const MAX_CONTROL: u64 = 1 << 20;
/// The most ar members read before the control archive (dpkg writes 3).
const MAX_MEMBERS: usize = 16;
/// The memory an xz or zstd decoder may take (xz: bytes; zstd: window log).
const XZ_MEMLIMIT: u64 = 64 << 20;
const ZSTD_WINDOW_LOG: u32 = 25;
const AR_MAGIC: &[u8; 8] = b"!<arch>\n";
const AR_HEADER: usize = 60;

/// The `control` file of the `.deb` `file` (`len` bytes long).
pub(super) fn control_of<R: Read + Seek>(mut file: R, len: u64) -> Result<Vec<u8>, String> {
    let not_ar = |why: &str| format!("is not a .deb (an ar archive): {why}");
    let mut magic = [0u8; 8];
    file.read_exact(&mut magic)
        .map_err(|_| not_ar("shorter than the ar magic"))?;
    if &magic != AR_MAGIC {
        return Err(not_ar("it does not start with `!<arch>\\n`"));
    }
    let mut pos = AR_MAGIC.len() as u64;
    for _ in 0..MAX_MEMBERS {
        if pos == len {
            break;
        }
        let (name, size) = member_header(&mut file, len - pos).map_err(|e| not_ar(&e))?;
        pos += AR_HEADER as u64;
        if name == "control.tar" || name.starts_with("control.tar.") {
            let member = (&mut file).take(size);
            return control_in(&name, size, member);
        }
        // Skip the data and the padding byte of an odd size.
        let skip = size + size % 2;
        pos = pos.saturating_add(skip).min(len);
        file.seek(SeekFrom::Start(pos))
            .map_err(|e| not_ar(&e.to_string()))?;
    }
    Err("has no control.tar.gz, .xz, .zst or control.tar".to_owned())
}

/// Reads one 60-byte ar header: the member's name and data size, checked
/// against the `left` bytes of the file after the header's start.
fn member_header(file: &mut impl Read, left: u64) -> Result<(String, u64), String> {
    if left < AR_HEADER as u64 {
        return Err("it ends inside a member header".to_owned());
    }
    let mut h = [0u8; AR_HEADER];
    file.read_exact(&mut h).map_err(|e| e.to_string())?;
    if &h[58..60] != b"`\n" {
        return Err("a member header does not end with \"`\\n\"".to_owned());
    }
    let raw = std::str::from_utf8(&h[..16]).map_err(|_| "a member name is not ASCII")?;
    // GNU ar ends short names with `/`; `/`, `//` and `/<n>` (symbol and
    // long-name tables) never occur in a .deb.
    let name = raw.trim_end_matches(' ');
    let name = name.strip_suffix('/').unwrap_or(name);
    if name.is_empty()
        || name.starts_with('/')
        || !name.bytes().all(|b| b.is_ascii_graphic() && b != b'/')
    {
        return Err(format!(
            "member name {raw:?} is not a short name (dpkg writes debian-binary, control.tar.*, data.tar.*)"
        ));
    }
    let size_text = std::str::from_utf8(&h[48..58])
        .ok()
        .map(|s| s.trim_end_matches(' '))
        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| format!("member {name} has no decimal size"))?;
    let size: u64 = size_text
        .parse()
        .map_err(|_| format!("member {name} has no decimal size"))?;
    if size > left - AR_HEADER as u64 {
        return Err(format!(
            "member {name} claims {size} bytes, more than the {} left in the file",
            left - AR_HEADER as u64
        ));
    }
    Ok((name.to_owned(), size))
}

/// The `control` file in the control archive `name` (`size` bytes).
fn control_in(name: &str, size: u64, member: impl Read) -> Result<Vec<u8>, String> {
    if size > MAX_CONTROL_TAR {
        return Err(format!("has a {name} over {MAX_CONTROL_TAR} bytes"));
    }
    let unreadable = |e: io::Error| format!("has an unreadable {name}: {e}");
    let decoded: Box<dyn Read + '_> = match name {
        "control.tar" => Box::new(member),
        "control.tar.gz" => Box::new(flate2::read::GzDecoder::new(member)),
        "control.tar.xz" => {
            let stream = xz2::stream::Stream::new_stream_decoder(XZ_MEMLIMIT, 0)
                .map_err(|e| unreadable(e.into()))?;
            Box::new(xz2::read::XzDecoder::new_stream(member, stream))
        }
        "control.tar.zst" => {
            let mut dec = zstd::stream::read::Decoder::new(member).map_err(unreadable)?;
            dec.window_log_max(ZSTD_WINDOW_LOG).map_err(unreadable)?;
            Box::new(dec)
        }
        _ => {
            return Err(format!(
                "has {name}; matrix reads control.tar, control.tar.gz, .xz and .zst"
            ));
        }
    };
    let mut tar = tar::Archive::new(decoded.take(MAX_CONTROL_TAR));
    for e in tar.entries().map_err(unreadable)? {
        let mut e = e.map_err(unreadable)?;
        let p = e.path().map_err(unreadable)?.to_string_lossy().into_owned();
        if p == "./control" || p == "control" {
            let size = e.size();
            if size > MAX_CONTROL {
                return Err(format!("has a control file over {MAX_CONTROL} bytes"));
            }
            return crate::package::capped::read_to_end(&mut e, MAX_CONTROL, size)
                .map_err(unreadable)?
                .ok_or_else(|| format!("has a control file over {MAX_CONTROL} bytes"));
        }
    }
    Err(format!("has no control file in {name}"))
}

/// `Field: value` lines, continuation lines (starting with a space or tab)
/// kept with their field.
pub(super) fn parse_control(bytes: &[u8]) -> Result<Vec<(String, String)>, String> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| "has a control file that is not UTF-8".to_owned())?;
    let mut fields: Vec<(String, String)> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            // One paragraph only.
            if fields.is_empty() {
                continue;
            }
            break;
        }
        if line.starts_with([' ', '\t']) {
            let Some(last) = fields.last_mut() else {
                return Err(format!(
                    "has a control file whose line {} continues no field",
                    n + 1
                ));
            };
            last.1.push('\n');
            last.1.push_str(line);
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(format!(
                "has a control file whose line {} is not `Field: value`",
                n + 1
            ));
        };
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(format!(
                "has a control file whose line {} names no field ({name:?})",
                n + 1
            ));
        }
        fields.push((name.to_owned(), value.trim().to_owned()));
    }
    Ok(fields)
}

/// One of dpkg's field rules.
type Rule = fn(&str) -> bool;

/// Checks the fields the index turns into folder names and sort keys
/// against dpkg's rules; `field` looks one up (empty when absent).
pub(super) fn check_fields<'a>(field: impl Fn(&str) -> &'a str) -> Result<(), String> {
    let rules: [(&str, Rule, &str); 3] = [
        (
            "Package",
            is_package_name,
            "lowercase letters, digits, `+`, `-`, `.`, starting with a letter or digit, 2 to 128 characters",
        ),
        (
            "Version",
            is_dpkg_version,
            "[epoch:]upstream[-revision] as dpkg --validate-version takes it",
        ),
        (
            "Architecture",
            is_dpkg_arch,
            "lowercase letters, digits and `-` (amd64, arm64, all)",
        ),
    ];
    for (name, ok, allowed) in rules {
        let value = field(name);
        if !ok(value) {
            return Err(format!(
                "has a control file whose {name} field {value:?} is not one dpkg accepts ({allowed})"
            ));
        }
    }
    Ok(())
}
