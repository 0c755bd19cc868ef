//! Universal (fat) Mach-O files: thin macOS binaries joined into one.
//!
//! Part of `package`; a pure writer, it never spawns a process. The layout is
//! the one `lipo -create` writes: a big-endian `fat_header` (`FAT_MAGIC`
//! 0xcafebabe, the slice count), one 20-byte `fat_arch` per slice (cputype
//! and cpusubtype copied from the slice's own Mach-O header, then offset,
//! size and log2 alignment), and the slices themselves, each at an offset
//! aligned to 2^14 (ARM, arm64) or 2^12 (x86, x86_64, PowerPC), zero bytes
//! between. Slices are sorted as lipo sorts them: by alignment, arm64 last,
//! so x86_64 + arm64 gives the same bytes as `llvm-lipo -create` for any
//! input order.
//!
//! Inputs are bounded ([`read_thin`] reads at most its cap plus one byte)
//! and checked: each must be a thin Mach-O (not a fat one, not anything
//! else), no two may share a cputype, and every offset must fit the 32-bit
//! fields of `FAT_MAGIC` (the 64-bit variant is never written).

use std::fs::File;
use std::path::{Path, PathBuf};

use super::capped;

/// `FAT_MAGIC`, written big-endian.
pub const FAT_MAGIC: u32 = 0xcafe_babe;
const MH_MAGIC: u32 = 0xfeed_face;
const MH_MAGIC_64: u32 = 0xfeed_facf;
const FAT_CIGAM: u32 = 0xbeba_feca;
const FAT_MAGIC_64: u32 = 0xcafe_babf;
const CPU_ARCH_ABI64: i32 = 0x0100_0000;
const CPU_TYPE_X86: i32 = 7;
const CPU_TYPE_ARM: i32 = 12;
const CPU_TYPE_POWERPC: i32 = 18;
/// `CPU_TYPE_ARM64`.
pub const CPU_TYPE_ARM64: i32 = CPU_TYPE_ARM | CPU_ARCH_ABI64;
/// `CPU_TYPE_X86_64`.
pub const CPU_TYPE_X86_64: i32 = CPU_TYPE_X86 | CPU_ARCH_ABI64;
const FAT_HEADER: usize = 8;
const FAT_ARCH: usize = 20;
/// The largest thin input [`read_thin`] takes by default: 1 GiB, far past
/// any real executable, well inside the 32-bit offsets.
pub const DEFAULT_CAP: u64 = 1 << 30;

/// What is wrong with an input or the result. Each names the input.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum FatError {
    #[error("could not read `{path}`: {source}")]
    #[diagnostic(code(matrix::package::macho_fat::io))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("`{path}` is larger than {cap} bytes")]
    #[diagnostic(
        code(matrix::package::macho_fat::too_large),
        help(
            "a universal binary holds thin Mach-O executables; this input is far larger than one"
        )
    )]
    TooLarge { path: PathBuf, cap: u64 },

    #[error("`{name}` is not a thin Mach-O file ({what})")]
    #[diagnostic(
        code(matrix::package::macho_fat::not_macho),
        help(
            "only darwin builds (thin Mach-O executables, magic 0xfeedface or 0xfeedfacf) can be \
             merged into a universal binary"
        )
    )]
    NotMachO { name: String, what: String },

    #[error("`{first}` and `{second}` are both {arch}")]
    #[diagnostic(
        code(matrix::package::macho_fat::same_arch),
        help(
            "a universal binary holds one slice per CPU type: merge darwin/amd64 with darwin/arm64"
        )
    )]
    SameArch {
        first: String,
        second: String,
        arch: String,
    },

    #[error("a universal binary needs at least two slices, got {count}")]
    #[diagnostic(code(matrix::package::macho_fat::count))]
    Count { count: usize },

    #[error("the universal binary would be larger than 4 GiB (slice `{name}`)")]
    #[diagnostic(
        code(matrix::package::macho_fat::offset),
        help("FAT_MAGIC offsets are 32-bit; the slices are too large to join")
    )]
    Offset { name: String },
}

/// One thin Mach-O to put in the universal file.
#[derive(Debug, Clone)]
pub struct Thin {
    /// What errors call it (a path or a target).
    pub name: String,
    pub bytes: Vec<u8>,
    pub cputype: i32,
    pub cpusubtype: i32,
}

impl Thin {
    /// Checks `bytes` is a thin Mach-O and reads its CPU type and subtype.
    pub fn new(name: impl Into<String>, bytes: Vec<u8>) -> Result<Thin, FatError> {
        let name = name.into();
        let not = |what: String| FatError::NotMachO {
            name: name.clone(),
            what,
        };
        if bytes.len() < 12 {
            return Err(not(format!(
                "{} bytes, shorter than a Mach-O header",
                bytes.len()
            )));
        }
        let word = |at: usize, big: bool| {
            let b = [bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]];
            if big {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            }
        };
        let big = match (word(0, false), word(0, true)) {
            (m, _) if m == MH_MAGIC || m == MH_MAGIC_64 => false,
            (_, m) if m == MH_MAGIC || m == MH_MAGIC_64 => true,
            (_, m) if m == FAT_MAGIC || m == FAT_MAGIC_64 || m == FAT_CIGAM => {
                return Err(not("it is already a universal binary".into()));
            }
            (_, m) => return Err(not(format!("magic 0x{m:08x}"))),
        };
        let cputype = word(4, big) as i32;
        let cpusubtype = word(8, big) as i32;
        Ok(Thin {
            name,
            bytes,
            cputype,
            cpusubtype,
        })
    }

    /// log2 of the slice's alignment, as lipo chooses it for executables.
    pub fn align(&self) -> u32 {
        match self.cputype & !CPU_ARCH_ABI64 {
            CPU_TYPE_X86 | CPU_TYPE_POWERPC => 12,
            _ => 14,
        }
    }
}

/// A thin Mach-O read from `path`, at most `cap` bytes (never following
/// more than the file: the read stops one byte past the cap).
pub fn read_thin(path: &Path, cap: u64) -> Result<Thin, FatError> {
    read_thin_named(path, &path.display().to_string(), cap)
}

/// [`read_thin`], with errors about the content calling it `name` (a
/// target and its path, say).
pub fn read_thin_named(path: &Path, name: &str, cap: u64) -> Result<Thin, FatError> {
    let io = |source| FatError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(io)?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let bytes = capped::read_to_end(file, cap, len)
        .map_err(io)?
        .ok_or_else(|| FatError::TooLarge {
            path: path.to_path_buf(),
            cap,
        })?;
    Thin::new(name, bytes)
}

/// A CPU type's name as lipo prints it.
pub fn arch_name(cputype: i32) -> String {
    match cputype {
        CPU_TYPE_X86_64 => "x86_64".into(),
        CPU_TYPE_ARM64 => "arm64".into(),
        CPU_TYPE_X86 => "i386".into(),
        CPU_TYPE_ARM => "arm".into(),
        other => format!("cputype {other}"),
    }
}

/// The universal file holding `slices`, in lipo's order whatever the order
/// given.
pub fn write_fat(slices: &[Thin]) -> Result<Vec<u8>, FatError> {
    if slices.len() < 2 {
        return Err(FatError::Count {
            count: slices.len(),
        });
    }
    for (i, a) in slices.iter().enumerate() {
        if let Some(b) = slices[i + 1..].iter().find(|b| b.cputype == a.cputype) {
            return Err(FatError::SameArch {
                first: a.name.clone(),
                second: b.name.clone(),
                arch: arch_name(a.cputype),
            });
        }
    }
    let mut order: Vec<&Thin> = slices.iter().collect();
    // lipo: arm64 last, otherwise by alignment; ties by cputype so the
    // result never depends on the order given.
    order.sort_by_key(|t| {
        (
            t.cputype == CPU_TYPE_ARM64,
            t.align(),
            t.cputype,
            t.cpusubtype,
        )
    });
    let mut offsets = Vec::with_capacity(order.len());
    let mut at = (FAT_HEADER + FAT_ARCH * order.len()) as u64;
    for t in &order {
        let align = 1u64 << t.align();
        at = at.div_ceil(align) * align;
        offsets.push(at);
        at += t.bytes.len() as u64;
        if at > u64::from(u32::MAX) {
            return Err(FatError::Offset {
                name: t.name.clone(),
            });
        }
    }
    let mut out = Vec::with_capacity(at as usize);
    out.extend_from_slice(&FAT_MAGIC.to_be_bytes());
    out.extend_from_slice(&(order.len() as u32).to_be_bytes());
    for (t, offset) in order.iter().zip(&offsets) {
        for field in [
            t.cputype as u32,
            t.cpusubtype as u32,
            *offset as u32,
            t.bytes.len() as u32,
            t.align(),
        ] {
            out.extend_from_slice(&field.to_be_bytes());
        }
    }
    for (t, offset) in order.iter().zip(&offsets) {
        out.resize(*offset as usize, 0);
        out.extend_from_slice(&t.bytes);
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
