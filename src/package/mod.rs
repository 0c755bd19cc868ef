//! Packaging: turns built files into the release artifacts in `dist/`.
//!
//! Runs after `exec` has built a target: [`files`] resolves the configured
//! globs into a sorted list of archive entries, [`archive`] writes them as a
//! reproducible tar.gz / tar.xz / tar.zst / zip (or copies a bare binary),
//! hashing while writing, [`checksum`] renders the `sha256sum -c` compatible
//! checksums file, [`dest`] holds the archive path rules both sides
//! enforce, and [`atomic`] makes sure every one of those files appears
//! under its real name only when complete. Pure CPU and file I/O: this module
//! never spawns a process, so callers may run it on rayon.
//!
//! Reproducibility is the point: the same entries, mtime and format give the
//! same bytes on any host, whatever the source files' modes, times, owners or
//! the umask (see [`archive`] for the exact rules).

pub mod archive;
pub mod atomic;
pub mod capped;
pub mod checksum;
pub mod dest;
pub(crate) mod encode;
pub mod extract;
pub mod files;
pub mod macho_fat;
pub mod manifest;
pub mod nofollow;
mod pargz;

use std::path::PathBuf;

pub use archive::{ArchiveSpec, Format, Written};
pub use atomic::{AtomicFile, write_atomic};
pub use checksum::{Algorithm, Hasher, HashingWriter, hash_file, render_checksums};
pub use files::{Entry, FileSpec};

/// Everything that can go wrong while resolving files or writing artifacts.
/// Each variant names the path or pattern involved.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum PackageError {
    #[error("I/O error on `{path}`: {source}")]
    #[diagnostic(code(matrix::package::io))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("could not walk `{path}`: {source}")]
    #[diagnostic(
        code(matrix::package::walk),
        help("check that the directory is readable and has no symlink loop")
    )]
    Walk {
        path: PathBuf,
        #[source]
        source: walkdir::Error,
    },

    #[error("pattern `{pattern}` matched no files under `{root}`")]
    #[diagnostic(
        code(matrix::package::no_match),
        help(
            "patterns are globs relative to the project root (`**` crosses directories); \
             check the path, or that the build step produced the file"
        )
    )]
    NoMatch { pattern: String, root: PathBuf },

    #[error("invalid file pattern `{pattern}`: {reason}")]
    #[diagnostic(
        code(matrix::package::bad_pattern),
        help(
            "use a relative glob such as `README*`, `docs/**/*.md` or `target/{{a,b}}/app`; \
             `..` and absolute paths are not allowed"
        )
    )]
    BadPattern { pattern: String, reason: String },

    #[error("`{dest}` would be packaged twice: from `{first}` and from `{second}`")]
    #[diagnostic(
        code(matrix::package::duplicate_dest),
        help("narrow one of the patterns, or give one of them a different `dst`")
    )]
    DuplicateDest {
        dest: String,
        first: PathBuf,
        second: PathBuf,
    },

    #[error("`{dest}` is a file (from `{file}`) but `{child}` needs it to be a directory")]
    #[diagnostic(
        code(matrix::package::dest_conflict),
        help("give one of the files a different `dst`")
    )]
    DestConflict {
        dest: String,
        file: PathBuf,
        child: String,
    },

    #[error("unsafe archive path `{dest}`: {reason}")]
    #[diagnostic(
        code(matrix::package::unsafe_dest),
        help("archive paths must be relative, use `/`, and must not contain `..`")
    )]
    UnsafeDest { dest: String, reason: String },

    #[error("`{path}` is not valid UTF-8")]
    #[diagnostic(
        code(matrix::package::non_utf8),
        help(
            "archive entry names must be UTF-8 so they read the same on every OS; rename the file"
        )
    )]
    NonUtf8Path { path: PathBuf },

    #[error("symlink `{link}` points to `{target}`, outside `{root}`")]
    #[diagnostic(
        code(matrix::package::symlink_outside_root),
        help("copy the file into the project, or package it from its real location")
    )]
    SymlinkOutsideRoot {
        link: PathBuf,
        target: PathBuf,
        root: PathBuf,
    },

    #[error("`{path}` is neither a regular file nor a directory")]
    #[diagnostic(
        code(matrix::package::special_file),
        help("only regular files (and symlinks to them) can be packaged")
    )]
    SpecialFile { path: PathBuf },

    #[error(
        "`{path}` changed size while it was being packaged: expected {expected} bytes, found {found}"
    )]
    #[diagnostic(
        code(matrix::package::source_changed),
        help("something is still writing this file; package only after the build has finished")
    )]
    SourceChanged {
        path: PathBuf,
        expected: u64,
        found: u64,
    },

    #[error("format `binary` needs exactly one file, got {count}: {dests:?}")]
    #[diagnostic(
        code(matrix::package::binary_needs_one_entry),
        help("list only the executable in `files` for this target, or use an archive format")
    )]
    BinaryNeedsOneEntry { count: usize, dests: Vec<String> },

    #[error("unknown archive format `{value}`; expected one of: {allowed}")]
    #[diagnostic(code(matrix::package::unknown_format))]
    UnknownFormat { value: String, allowed: String },

    #[error("could not write zip archive `{path}`: {source}")]
    #[diagnostic(code(matrix::package::zip))]
    Zip {
        path: PathBuf,
        #[source]
        source: zip::result::ZipError,
    },
}

impl PackageError {
    /// Adapter for `map_err`: an I/O error on `path`.
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> PackageError {
        let path = path.into();
        move |source| PackageError::Io { path, source }
    }
}

/// End-to-end tests of the whole flow (resolve -> write -> checksums),
/// validated by the real `tar`, `unzip`, `gzip`, `xz`, `zstd` and
/// `sha256sum`/`sha512sum`.
#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;
    use std::process::Command;
    use std::time::{Duration, SystemTime};

    /// 2023-11-14 22:13:20 UTC.
    const MTIME: u64 = 1_700_000_000;
    const LONG_DIR: &str =
        "share/doc/a-rather-long-directory-name-that-keeps-going/and-another-level-of-nesting-here";

    /// A project tree; `variant` changes every source mode (keeping which
    /// files are executable) and every mtime, which must not show.
    fn project(variant: usize) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let exec_modes = [0o755, 0o700, 0o711];
        let file_modes = [0o644, 0o600, 0o664];
        let long = format!("{LONG_DIR}/guide-with-a-long-file-name.md");
        let files: [(&str, &[u8], bool); 5] = [
            ("target/release/app", b"\x7fELF pretend binary", true),
            ("README.md", b"# app\n", false),
            ("LICENSE", b"MIT\n", false),
            ("CHANGELOG.md", b"", false),
            (&long, b"guide\n", false),
        ];
        for (i, (path, content, exec)) in files.into_iter().enumerate() {
            let p = dir.path().join(path);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(&p, content).unwrap();
            let mode = if exec {
                exec_modes[variant]
            } else {
                file_modes[variant]
            };
            fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
            let when = SystemTime::UNIX_EPOCH
                + Duration::from_secs(1_000_000 * (variant as u64 + 1) + i as u64);
            fs::File::options()
                .write(true)
                .open(&p)
                .unwrap()
                .set_modified(when)
                .unwrap();
        }
        dir
    }

    fn specs() -> Vec<FileSpec> {
        let spec = |src: &str, dst: Option<&str>| FileSpec {
            src: src.to_string(),
            dst: dst.map(str::to_string),
        };
        vec![
            spec("target/release/app", Some("")),
            spec("*.md", None),
            spec("LICENSE", None),
            spec("share", None),
        ]
    }

    fn write_all_formats(
        root: &Path,
        out: &Path,
        wrap: Option<&str>,
        mtime: u64,
    ) -> Vec<(Format, Written)> {
        let entries = files::resolve(root, &specs()).unwrap();
        Format::ALL
            .into_iter()
            .map(|format| {
                let binary: Vec<Entry>;
                let entries = if format == Format::Binary {
                    binary = entries.iter().filter(|e| e.executable).cloned().collect();
                    &binary
                } else {
                    &entries
                };
                let spec = ArchiveSpec {
                    format,
                    entries,
                    wrap,
                    mtime,
                    algorithm: Algorithm::Sha256,
                    zstd_level: crate::package::archive::ZSTD_DEFAULT_LEVEL,
                };
                let dest = out.join(format!("app{}", format.extension()));
                (format, archive::write(&spec, &dest).unwrap())
            })
            .collect()
    }

    fn run(cmd: &str, args: &[&str], dir: &Path) -> String {
        let out = Command::new(cmd)
            .args(args)
            .current_dir(dir)
            .env("TZ", "UTC")
            .env("LC_ALL", "C")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{cmd} {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// (mode, name) of every member, in archive order, with the wrap prefix.
    fn expected(wrap: &str) -> Vec<(String, String)> {
        let d = "drwxr-xr-x";
        let f = "-rw-r--r--";
        let x = "-rwxr-xr-x";
        let mut want = vec![];
        if !wrap.is_empty() {
            want.push((d, String::new()));
        }
        for (mode, name) in [
            (f, "CHANGELOG.md"),
            (f, "LICENSE"),
            (f, "README.md"),
            (x, "app"),
            (d, "share/"),
            (d, "share/doc/"),
            (
                d,
                "share/doc/a-rather-long-directory-name-that-keeps-going/",
            ),
            (d, &format!("{LONG_DIR}/")),
            (f, &format!("{LONG_DIR}/guide-with-a-long-file-name.md")),
        ] {
            want.push((mode, name.to_string()));
        }
        want.into_iter()
            .map(|(m, n)| (m.to_string(), format!("{wrap}{n}")))
            .collect()
    }

    #[test]
    fn same_inputs_same_bytes_whatever_the_source_metadata() {
        let out = tempfile::tempdir().unwrap();
        let mut runs = Vec::new();
        for variant in 0..3 {
            let root = project(variant);
            let dist = out.path().join(format!("v{variant}"));
            fs::create_dir(&dist).unwrap();
            let written = write_all_formats(root.path(), &dist, Some("app-1.0"), MTIME);
            for (format, w) in &written {
                // Digest and size computed while writing match the file.
                let (digest, size) = hash_file(&w.path, Algorithm::Sha256).unwrap();
                assert_eq!((&w.digest, w.size), (&digest, size), "{format}");
                let mode = fs::metadata(&w.path).unwrap().permissions().mode() & 0o7777;
                let want = if *format == Format::Binary {
                    0o755
                } else {
                    0o644
                };
                assert_eq!(mode, want, "{format}");
            }
            runs.push(written);
        }
        for (format, w) in &runs[0] {
            for other in &runs[1..] {
                let o = &other.iter().find(|(f, _)| f == format).unwrap().1;
                assert_eq!(
                    w.digest, o.digest,
                    "{format} differs between source variants"
                );
                assert_eq!(fs::read(&w.path).unwrap(), fs::read(&o.path).unwrap());
            }
        }
        // The fixed mtime is really in the archives: changing it changes them.
        let root = project(0);
        let dist = out.path().join("later");
        fs::create_dir(&dist).unwrap();
        let later = write_all_formats(root.path(), &dist, Some("app-1.0"), MTIME + 86_400);
        for ((format, a), (_, b)) in runs[0].iter().zip(&later) {
            assert_eq!(a.digest == b.digest, *format == Format::Binary, "{format}");
        }
    }

    #[test]
    fn system_tar_lists_and_extracts_exactly_the_entries() {
        let root = project(1);
        let out = tempfile::tempdir().unwrap();
        let written = write_all_formats(root.path(), out.path(), Some("app-1.0/"), MTIME);
        let want = expected("app-1.0/");
        for (format, w) in written.iter().filter(|(f, _)| f.name().starts_with("tar")) {
            let name = w.path.file_name().unwrap().to_str().unwrap();
            let listing = run("tar", &["-tvf", name], out.path());
            let mut got = Vec::new();
            for line in listing.lines() {
                // mode owner size date time name
                let fields: Vec<&str> = line.split_whitespace().collect();
                assert_eq!(fields.len(), 6, "{format}: {line}");
                assert_eq!(fields[1], "0/0", "{format}: {line}");
                assert_eq!(
                    (fields[3], fields[4]),
                    ("2023-11-14", "22:13"),
                    "{format}: {line}"
                );
                got.push((fields[0].to_string(), fields[5].to_string()));
            }
            assert_eq!(got, want, "{format}");

            let check = match format {
                Format::TarGz => ("gzip", vec!["-t", name]),
                Format::TarXz => ("xz", vec!["-t", name]),
                _ => ("zstd", vec!["-q", "-t", name]),
            };
            run(check.0, &check.1, out.path());

            let x = out.path().join(format!("x-{}", format.name()));
            fs::create_dir(&x).unwrap();
            run("tar", &["-xf", name, "-C", x.to_str().unwrap()], out.path());
            for (rel, content) in [
                ("app", &b"\x7fELF pretend binary"[..]),
                ("CHANGELOG.md", b""),
                (
                    &format!("{LONG_DIR}/guide-with-a-long-file-name.md"),
                    b"guide\n",
                ),
            ] {
                assert_eq!(
                    fs::read(x.join("app-1.0").join(rel)).unwrap(),
                    content,
                    "{format} {rel}"
                );
            }
        }
        let gz = out.path().join("app.tar.gz");
        let names = run("tar", &["-tzf", gz.to_str().unwrap()], out.path());
        let want_names: Vec<&str> = want.iter().map(|(_, n)| n.as_str()).collect();
        assert_eq!(names.lines().collect::<Vec<_>>(), want_names);
    }

    #[test]
    fn system_unzip_lists_and_extracts_exactly_the_entries() {
        let root = project(2);
        let out = tempfile::tempdir().unwrap();
        let written = write_all_formats(root.path(), out.path(), Some("app-1.0"), MTIME);
        let zip = &written
            .iter()
            .find(|(f, _)| *f == Format::Zip)
            .unwrap()
            .1
            .path;
        let zip = zip.to_str().unwrap();
        run("unzip", &["-tq", zip], out.path());

        // zipinfo, decimal times: mode version os size type method time name
        let listing = run("unzip", &["-Z", "-T", zip], out.path());
        let mut got = Vec::new();
        for line in listing.lines().filter(|l| l.starts_with(['-', 'd'])) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(fields.len(), 8, "{line}");
            assert_eq!(fields[2], "unx", "{line}");
            assert_eq!(fields[6], "20231114.221320", "{line}");
            got.push((fields[0].to_string(), fields[7].to_string()));
        }
        assert_eq!(got, expected("app-1.0/"));

        // No extra fields at all (no extended timestamps, no needless Zip64).
        let verbose = run("unzip", &["-Z", "-v", zip], out.path());
        let extra: Vec<&str> = verbose
            .lines()
            .filter(|l| l.contains("length of extra field:"))
            .collect();
        assert_eq!(extra.len(), expected("app-1.0/").len(), "{verbose}");
        assert!(
            extra.iter().all(|l| l.trim_end().ends_with(" 0 bytes")),
            "{extra:?}"
        );
        assert!(!verbose.contains("Zip64"), "{verbose}");

        let short = run("unzip", &["-l", zip], out.path());
        // Debian's unzip prints ISO dates, upstream prints MM-DD-YYYY.
        let app_line = short.lines().find(|l| l.ends_with(" app-1.0/app")).unwrap();
        assert!(app_line.contains(" 22:13 "), "{app_line}");
        assert!(
            ["2023-11-14", "11-14-2023"]
                .iter()
                .any(|d| app_line.contains(d)),
            "{app_line}"
        );

        let x = out.path().join("x");
        run("unzip", &["-q", zip, "-d", x.to_str().unwrap()], out.path());
        assert_eq!(fs::read(x.join("app-1.0/README.md")).unwrap(), b"# app\n");
        let app_mode = fs::metadata(x.join("app-1.0/app"))
            .unwrap()
            .permissions()
            .mode();
        assert_ne!(app_mode & 0o111, 0, "executable bit lost");
    }

    #[test]
    fn unwrapped_archives_start_at_the_top_level() {
        let root = project(0);
        let out = tempfile::tempdir().unwrap();
        write_all_formats(root.path(), out.path(), None, MTIME);
        let names = run("tar", &["-tf", "app.tar.zst"], out.path());
        let want: Vec<String> = expected("").into_iter().map(|(_, n)| n).collect();
        assert_eq!(names.lines().collect::<Vec<_>>(), want);
        let listing = run("unzip", &["-Z1", "app.zip"], out.path());
        assert_eq!(listing.lines().collect::<Vec<_>>(), want);
    }

    #[test]
    fn checksums_file_of_real_artifacts_verifies() {
        let root = project(0);
        let out = tempfile::tempdir().unwrap();
        let written = write_all_formats(root.path(), out.path(), Some("app"), MTIME);
        for algorithm in [Algorithm::Sha256, Algorithm::Sha512] {
            let lines: Vec<(String, String)> = written
                .iter()
                .map(|(_, w)| {
                    let name = w.path.file_name().unwrap().to_str().unwrap().to_string();
                    let hex = match algorithm {
                        Algorithm::Sha256 => w.digest.clone(),
                        Algorithm::Sha512 => hash_file(&w.path, algorithm).unwrap().0,
                    };
                    (name, hex)
                })
                .collect();
            let sums = format!("checksums.{}", algorithm.name());
            write_atomic(&out.path().join(&sums), render_checksums(&lines).as_bytes()).unwrap();
            let report = run(
                algorithm.check_command(),
                &["--check", "--strict", &sums],
                out.path(),
            );
            assert_eq!(
                report.matches(": OK").count(),
                Format::ALL.len(),
                "{report}"
            );
        }
    }

    /// Peak resident memory of this process, from /proc (Linux only).
    fn peak_rss_kib() -> u64 {
        let status = fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    /// A file over 4 GiB: Zip64 must kick in, and nothing may be held in
    /// memory. Slow (it compresses 4.3 GB), so run it on demand:
    /// `cargo test --release --lib -- --ignored huge`.
    #[test]
    #[ignore = "compresses 4.3 GB; run with --release -- --ignored"]
    fn huge_file_streams_and_uses_zip64() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.bin");
        let len = u64::from(u32::MAX) + 200 * 1024 * 1024;
        // Sparse: costs no disk, still 4.3 GB to read and compress.
        fs::File::create(&big).unwrap().set_len(len).unwrap();
        let entries = vec![Entry {
            source: big.clone(),
            dest: "big.bin".to_string(),
            executable: true,
        }];
        for format in [Format::Zip, Format::TarGz, Format::Binary] {
            let dest = dir.path().join(format!("out{}", format.extension()));
            let spec = ArchiveSpec {
                format,
                entries: &entries,
                wrap: Some("w"),
                mtime: MTIME,
                algorithm: Algorithm::Sha256,
                zstd_level: crate::package::archive::ZSTD_DEFAULT_LEVEL,
            };
            let written = archive::write(&spec, &dest).unwrap();
            assert_eq!(
                written.digest,
                hash_file(&dest, Algorithm::Sha256).unwrap().0
            );
            let name = dest.file_name().unwrap().to_str().unwrap();
            match format {
                Format::Zip => {
                    run("unzip", &["-tq", name], dir.path());
                    let info = run("unzip", &["-Z", "-v", name], dir.path());
                    let sizes: Vec<u64> = info
                        .lines()
                        .filter(|l| l.trim_start().starts_with("uncompressed size:"))
                        .filter_map(|l| l.split_whitespace().nth(2)?.parse().ok())
                        .collect();
                    assert!(sizes.contains(&len), "{info}");
                }
                Format::TarGz => {
                    let listing = run("tar", &["-tvzf", name], dir.path());
                    assert!(listing.contains(&format!(" {len} ")), "{listing}");
                }
                _ => assert_eq!(written.size, len),
            }
            fs::remove_file(&dest).unwrap();
        }
        assert!(
            peak_rss_kib() < 256 * 1024,
            "peak RSS {} KiB",
            peak_rss_kib()
        );
    }
}
