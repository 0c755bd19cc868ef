//! Proving a built binary is what its target's name says.
//!
//! Runs inside each build job (exec), after the build and before anything is
//! packaged: the file's header gives format, CPU, bitness and byte order, and
//! for ELF the OS it declares (OSABI byte or an OS note). A mismatch fails the
//! job ("built linux/arm64 but the binary is x86-64 ELF"), so a host binary
//! can never ship under a foreign name. What was found goes into the manifest.
//! Files are memory-mapped and only headers are read, whatever their size.

use std::fmt;
use std::path::{Path, PathBuf};

use object::read::elf::ProgramHeader;
use object::{Architecture, BinaryFormat, Object, ObjectSection};
use serde::{Deserialize, Serialize};

use crate::target::{Endian, ExeFormat, Machine};

/// What matrix expects of a target's binary (from the knowledge base).
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    /// Target id, for messages.
    pub target: &'a str,
    /// Go's OS name: linux, darwin, windows, freebsd, openbsd, netbsd.
    pub os: &'a str,
    pub format: ExeFormat,
    pub machine: Machine,
    pub bits: u8,
    pub endian: Endian,
}

/// What the binary turned out to be; recorded in manifest.json.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inspected {
    /// `elf`, `mach-o`, `pe` or `wasm`.
    pub format: String,
    /// matrix's machine name (`x86-64`, `aarch64`, ...).
    pub machine: String,
    pub bits: u8,
    /// `little` or `big`.
    pub endian: String,
    /// The OS the file itself declares, if it declares one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<String>,
    /// ELF only: `static`, or `dynamic` when it names an interpreter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linkage: Option<String>,
    pub size: u64,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum VerifyError {
    #[error("cannot read {}: {source}", path.display())]
    #[diagnostic(code(matrix::verify::io))]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is not an executable matrix can read: {reason}", path.display())]
    #[diagnostic(
        code(matrix::verify::not_executable),
        help(
            "builds must produce an ELF, Mach-O, PE or wasm binary; set verify = false for other artifacts"
        )
    )]
    NotAnExecutable { path: PathBuf, reason: String },
    #[error("built {target} but the binary is {found} (expected {expected})")]
    #[diagnostic(code(matrix::verify::mismatch))]
    Mismatch {
        target: String,
        expected: String,
        found: String,
    },
    #[error("built {target} but the binary is marked for {found_os}, not {expected_os}")]
    #[diagnostic(code(matrix::verify::wrong_os))]
    WrongOs {
        target: String,
        expected_os: String,
        found_os: String,
    },
}

fn to_machine(a: Architecture) -> Option<Machine> {
    Some(match a {
        Architecture::I386 => Machine::X86,
        Architecture::X86_64 => Machine::X86_64,
        Architecture::Arm => Machine::Arm,
        Architecture::Aarch64 => Machine::Aarch64,
        Architecture::PowerPc64 => Machine::PowerPc64,
        Architecture::S390x => Machine::S390x,
        Architecture::Riscv64 => Machine::RiscV64,
        Architecture::Mips => Machine::Mips,
        Architecture::Mips64 => Machine::Mips64,
        Architecture::LoongArch64 => Machine::LoongArch64,
        Architecture::Wasm32 => Machine::Wasm32,
        _ => return None,
    })
}

/// A person's description: `x86-64 ELF (64-bit, little-endian)`.
struct Describe<'a>(&'a str, &'a str, u8, &'a str);

impl fmt::Display for Describe<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let format = match self.1 {
            "elf" => "ELF",
            "mach-o" => "Mach-O",
            "pe" => "PE",
            other => other,
        };
        write!(f, "{} {format} ({}-bit, {}-endian)", self.0, self.2, self.3)
    }
}

/// Reads the headers of `path`.
pub fn inspect(path: &Path) -> Result<Inspected, VerifyError> {
    let io = |source| VerifyError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    // SAFETY: the map is read-only and lives only in this function; the
    // build that wrote the file has finished, so nothing truncates it.
    let map = unsafe { memmap2::Mmap::map(&file) }.map_err(io)?;
    let data: &[u8] = &map;
    let not_exe = |reason: String| VerifyError::NotAnExecutable {
        path: path.to_path_buf(),
        reason,
    };
    let parsed = object::File::parse(data).map_err(|e| not_exe(e.to_string()))?;
    let format = match parsed.format() {
        BinaryFormat::Elf => ExeFormat::Elf,
        BinaryFormat::MachO => ExeFormat::MachO,
        BinaryFormat::Pe => ExeFormat::Pe,
        BinaryFormat::Wasm => ExeFormat::Wasm,
        other => {
            return Err(not_exe(format!(
                "{other:?} files are objects, not executables"
            )));
        }
    };
    let arch = parsed.architecture();
    let machine =
        to_machine(arch).map_or_else(|| format!("{arch:?}").to_lowercase(), |m| m.name().into());
    let (os, linkage) = match &parsed {
        object::File::Elf32(f) => (
            elf_os(data, &parsed),
            Some(elf_linkage(f.elf_program_headers(), f.endian(), data)),
        ),
        object::File::Elf64(f) => (
            elf_os(data, &parsed),
            Some(elf_linkage(f.elf_program_headers(), f.endian(), data)),
        ),
        _ => (
            match format {
                ExeFormat::MachO => Some("darwin".to_string()),
                ExeFormat::Pe => Some("windows".to_string()),
                _ => None,
            },
            None,
        ),
    };
    Ok(Inspected {
        format: format.name().into(),
        machine,
        bits: if parsed.is_64() { 64 } else { 32 },
        endian: if parsed.is_little_endian() {
            "little"
        } else {
            "big"
        }
        .into(),
        os,
        linkage,
        size,
    })
}

fn elf_linkage<P: ProgramHeader>(headers: &[P], endian: P::Endian, data: &[u8]) -> String {
    let dynamic = headers
        .iter()
        .any(|h| h.interpreter(endian, data).ok().flatten().is_some());
    if dynamic { "dynamic" } else { "static" }.into()
}

/// The OS an ELF file declares: its OSABI byte, or an OS note section.
/// Linux binaries often declare nothing (Go's do not), so absence is normal.
fn elf_os(data: &[u8], file: &object::File<'_>) -> Option<String> {
    const OSABI: usize = 7;
    let by_abi = match data.get(OSABI) {
        Some(3) => Some("linux"),
        Some(9) => Some("freebsd"),
        Some(2) => Some("netbsd"),
        Some(12) => Some("openbsd"),
        _ => None,
    };
    if let Some(os) = by_abi {
        return Some(os.into());
    }
    let note = |name: &str| {
        file.section_by_name(name)
            .and_then(|s| s.data().ok().map(<[u8]>::to_vec))
    };
    if note(".note.openbsd.ident").is_some() {
        return Some("openbsd".into());
    }
    if note(".note.netbsd.ident").is_some() {
        return Some("netbsd".into());
    }
    if note(".note.tag").is_some_and(|d| contains(&d, b"FreeBSD")) {
        return Some("freebsd".into());
    }
    if note(".note.ABI-tag").is_some_and(|d| contains(&d, b"GNU")) {
        return Some("linux".into());
    }
    None
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Compares what was found with what the target needs.
pub fn check(found: &Inspected, expected: &Expected<'_>) -> Result<(), VerifyError> {
    let endian = match expected.endian {
        Endian::Little => "little",
        Endian::Big => "big",
    };
    let want_machine = expected.machine.name();
    let want_format = expected.format.name();
    let same = found.format == want_format
        && found.machine == want_machine
        && found.bits == expected.bits
        && found.endian == endian;
    if !same {
        return Err(VerifyError::Mismatch {
            target: expected.target.to_string(),
            expected: Describe(want_machine, want_format, expected.bits, endian).to_string(),
            found: Describe(&found.machine, &found.format, found.bits, &found.endian).to_string(),
        });
    }
    match &found.os {
        Some(os) if os != expected.os => Err(VerifyError::WrongOs {
            target: expected.target.to_string(),
            expected_os: expected.os.to_string(),
            found_os: os.clone(),
        }),
        // A BSD binary must say so: an ELF that declares nothing is a Linux
        // (or generic) build, which a BSD kernel would refuse.
        None if matches!(expected.os, "freebsd" | "openbsd" | "netbsd") => {
            Err(VerifyError::WrongOs {
                target: expected.target.to_string(),
                expected_os: expected.os.to_string(),
                found_os: "no OS (a Linux-style ELF)".to_string(),
            })
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests;
