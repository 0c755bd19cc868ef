//! The `.nupkg` writer: the rendered Chocolatey files packed as the Open
//! Packaging Conventions zip that `choco pack` (NuGet) produces.
//!
//! Part of `packager::chocolatey`, called by `write` after `render`. Owns the
//! OPC parts NuGet adds around the nuspec and scripts:
//! - `_rels/.rels`: relationships from the package to the manifest (the
//!   nuspec) and to the core-properties part;
//! - `package/services/metadata/core-properties/<hex>.psmdcp`: Dublin Core
//!   metadata (creator, description, identifier, version, keywords);
//! - `[Content_Types].xml`: a content type per file extension, which
//!   System.IO.Packaging (and so NuGet) requires for every part.
//!
//! NuGet names the psmdcp part and the relationship ids from random GUIDs;
//! here they come from a hash of the package's content so the same release
//! gives the same bytes. Entries are deflated in a fixed order with the
//! release timestamp, and the file appears atomically.

use std::borrow::Cow;
use std::io::{Cursor, Write};
use std::path::Path;

use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, System, ZipWriter};

use super::{ChocoFiles, ChocoOptions, channel_name, validate, version, xml_escape};
use crate::package::write_atomic;
use crate::packager::PublishError;
use crate::packager::input::ChannelInput;

const MANIFEST_REL: &str = "http://schemas.microsoft.com/packaging/2010/07/manifest";
const CORE_PROPERTIES_REL: &str =
    "http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties";
const PSMDCP_DIR: &str = "package/services/metadata/core-properties";
/// The `lastModifiedBy` NuGet records (it names the packing tool).
const PACKED_BY: &str = "matrix";

/// `<id>.<version>.nupkg`, the name `choco pack` gives the package.
pub fn nupkg_file_name(opts: &ChocoOptions, input: &ChannelInput) -> Result<String, PublishError> {
    let channel = channel_name(opts);
    validate::check_id(channel, &opts.id)?;
    let version = version::map_version(channel, &input.release.version)?;
    Ok(format!("{}.{version}.nupkg", opts.id))
}

/// Writes `files` as the package at `out` (its directory must exist).
///
/// The nuspec must carry the same `<id>` and `<version>` as `opts` and the
/// release: the part names and the psmdcp are derived from them, and a
/// package whose parts disagree is rejected by `choco push`.
pub fn write_nupkg(
    files: &ChocoFiles,
    opts: &ChocoOptions,
    input: &ChannelInput,
    out: &Path,
) -> Result<(), PublishError> {
    let channel = channel_name(opts);
    validate::check_id(channel, &opts.id)?;
    let version = version::map_version(channel, &input.release.version)?;
    validate::check_required(channel, "authors", &opts.authors)?;
    validate::check_required(channel, "description", &input.release.description)?;
    validate::check_tags(channel, &opts.tags)?;
    for (element, value) in [("id", xml_escape(&opts.id)), ("version", version.clone())] {
        let tag = format!("<{element}>{value}</{element}>");
        if !files.nuspec.contains(&tag) {
            return Err(PublishError::Invalid {
                channel: channel.to_string(),
                message: format!("the nuspec does not contain `{tag}`"),
                help: Some(
                    "a nuspec template must print <id>{{ id }}</id> and \
                     <version>{{ version }}</version> unchanged"
                        .to_string(),
                ),
            });
        }
    }
    let bytes =
        package_bytes(files, opts, input, &version).map_err(PublishError::io(channel, out))?;
    write_atomic(out, &bytes).map_err(PublishError::io(channel, out))
}

/// The package bytes. Part order is fixed: the relationships, the nuspec
/// and scripts, then the core properties and `[Content_Types].xml`, which
/// can only be written once every other part's name is known.
fn package_bytes(
    files: &ChocoFiles,
    opts: &ChocoOptions,
    input: &ChannelInput,
    version: &str,
) -> std::io::Result<Vec<u8>> {
    let mut content: Vec<(String, Cow<[u8]>)> = vec![
        (
            format!("{}.nuspec", opts.id),
            Cow::Borrowed(files.nuspec.as_bytes()),
        ),
        (
            "tools/chocolateyinstall.ps1".to_string(),
            script_bytes(&files.install),
        ),
    ];
    if let Some(uninstall) = &files.uninstall {
        content.push((
            "tools/chocolateyuninstall.ps1".to_string(),
            script_bytes(uninstall),
        ));
    }
    let psmdcp = core_properties(opts, input, version);
    let digest = content_digest(&content, &psmdcp);
    let psmdcp_name = format!("{PSMDCP_DIR}/{}.psmdcp", hex::encode(&digest[..16]));
    let rels = relationships(&content[0].0, &psmdcp_name, &digest);
    let mut names: Vec<&str> = content.iter().map(|(n, _)| n.as_str()).collect();
    names.push(&psmdcp_name);
    let types = content_types(&names);

    let mut parts: Vec<(&str, &[u8])> = vec![("_rels/.rels", rels.as_bytes())];
    parts.extend(content.iter().map(|(n, b)| (n.as_str(), b.as_ref())));
    parts.push((&psmdcp_name, psmdcp.as_bytes()));
    parts.push(("[Content_Types].xml", types.as_bytes()));
    zip_parts(&parts, input.release.timestamp)
}

/// A script's bytes as Windows PowerShell 5.1 (the one Chocolatey runs)
/// reads them right: without a byte-order mark it decodes a script in the
/// ANSI code page, which garbles any non-ASCII text, so such a script gets
/// the UTF-8 BOM. Pure ASCII stays as rendered.
fn script_bytes(text: &str) -> Cow<'_, [u8]> {
    if text.is_ascii() || text.starts_with('\u{FEFF}') {
        Cow::Borrowed(text.as_bytes())
    } else {
        let mut bytes = "\u{FEFF}".as_bytes().to_vec();
        bytes.extend_from_slice(text.as_bytes());
        Cow::Owned(bytes)
    }
}

/// sha256 over every part's name, length and bytes: changes whenever
/// anything in the package does, so the derived names stay unique.
fn content_digest(content: &[(String, Cow<[u8]>)], psmdcp: &str) -> Vec<u8> {
    let mut h = Sha256::new();
    for (name, bytes) in content {
        h.update(name.as_bytes());
        h.update([0]);
        h.update((bytes.len() as u64).to_be_bytes());
        h.update(bytes.as_ref());
    }
    h.update(psmdcp.as_bytes());
    h.finalize().to_vec()
}

fn core_properties(opts: &ChocoOptions, input: &ChannelInput, version: &str) -> String {
    format!(
        concat!(
            r#"<?xml version="1.0" encoding="utf-8"?>"#,
            r#"<coreProperties xmlns:dc="http://purl.org/dc/elements/1.1/" "#,
            r#"xmlns:dcterms="http://purl.org/dc/terms/" "#,
            r#"xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" "#,
            r#"xmlns="http://schemas.openxmlformats.org/package/2006/metadata/core-properties">"#,
            "<dc:creator>{creator}</dc:creator>",
            "<dc:description>{description}</dc:description>",
            "<dc:identifier>{id}</dc:identifier>",
            "<version>{version}</version>",
            "<keywords>{keywords}</keywords>",
            "<lastModifiedBy>{by}</lastModifiedBy>",
            "</coreProperties>"
        ),
        creator = xml_escape(&opts.authors),
        description = xml_escape(&input.release.description),
        id = xml_escape(&opts.id),
        version = xml_escape(version),
        keywords = xml_escape(&opts.tags.join(" ")),
        by = PACKED_BY,
    )
}

/// `_rels/.rels`. Relationship ids must be XML names, hence the `R`.
fn relationships(nuspec: &str, psmdcp: &str, digest: &[u8]) -> String {
    let id = |range: std::ops::Range<usize>| format!("R{}", hex::encode_upper(&digest[range]));
    format!(
        concat!(
            r#"<?xml version="1.0" encoding="utf-8"?>"#,
            r#"<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">"#,
            r#"<Relationship Type="{manifest}" Target="/{nuspec}" Id="{id1}" />"#,
            r#"<Relationship Type="{core}" Target="/{psmdcp}" Id="{id2}" />"#,
            "</Relationships>"
        ),
        manifest = MANIFEST_REL,
        nuspec = xml_escape(nuspec),
        id1 = id(16..24),
        core = CORE_PROPERTIES_REL,
        psmdcp = xml_escape(psmdcp),
        id2 = id(24..32),
    )
}

/// `[Content_Types].xml`: one `Default` per extension, in first-seen order
/// after `rels`. NuGet gives every non-packaging extension
/// `application/octet`.
fn content_types(part_names: &[&str]) -> String {
    let mut exts: Vec<&str> = vec!["rels"];
    for name in part_names {
        let base = name.rsplit('/').next().unwrap_or(name);
        if let Some((_, ext)) = base.rsplit_once('.')
            && !exts.contains(&ext)
        {
            exts.push(ext);
        }
    }
    let mut out = String::from(concat!(
        r#"<?xml version="1.0" encoding="utf-8"?>"#,
        r#"<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">"#
    ));
    for ext in exts {
        let content_type = match ext {
            "rels" => "application/vnd.openxmlformats-package.relationships+xml",
            "psmdcp" => "application/vnd.openxmlformats-package.core-properties+xml",
            _ => "application/octet",
        };
        out.push_str(&format!(
            r#"<Default Extension="{}" ContentType="{content_type}" />"#,
            xml_escape(ext)
        ));
    }
    out.push_str("</Types>");
    out
}

fn zip_parts(parts: &[(&str, &[u8])], timestamp: i64) -> std::io::Result<Vec<u8>> {
    let zerr = |e: zip::result::ZipError| std::io::Error::other(e);
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    // Everything fixed: `system` would otherwise follow the host, and the
    // mode the umask.
    let options = SimpleFileOptions::default()
        .system(System::Unix)
        .unix_permissions(0o644)
        .compression_method(CompressionMethod::Deflated)
        .compression_level(Some(crate::package::encode::ZIP_DEFLATE_LEVEL))
        .last_modified_time(dos_time(timestamp));
    for (name, bytes) in parts {
        zip.start_file(*name, options).map_err(zerr)?;
        zip.write_all(bytes)?;
    }
    Ok(zip.finish().map_err(zerr)?.into_inner())
}

/// `secs` (UTC) as a zip (DOS) timestamp, clamped as the release zips
/// clamp it (1980 to 2107; a negative time is 1980).
fn dos_time(secs: i64) -> zip::DateTime {
    crate::package::encode::dos_time(u64::try_from(secs).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dos_time_table() {
        let table = [
            (i64::MIN, (1980, 1, 1, 0, 0, 0)),
            (0, (1980, 1, 1, 0, 0, 0)),
            (315_532_800, (1980, 1, 1, 0, 0, 0)),
            // DOS time has two-second steps: odd seconds round down.
            (1_700_000_001, (2023, 11, 14, 22, 13, 20)),
            (i64::MAX, (2107, 12, 31, 23, 59, 58)),
        ];
        for (secs, want) in table {
            let t = dos_time(secs);
            let got = (
                t.year(),
                t.month(),
                t.day(),
                t.hour(),
                t.minute(),
                t.second(),
            );
            assert_eq!(got, want, "{secs}");
        }
    }

    #[test]
    fn scripts_with_non_ascii_text_get_a_utf8_bom() {
        let table: &[(&str, &[u8])] = &[
            ("Write-Host hi\n", b"Write-Host hi\n"),
            ("# caf\u{e9}\n", b"\xEF\xBB\xBF# caf\xC3\xA9\n"),
            ("\u{FEFF}# caf\u{e9}\n", b"\xEF\xBB\xBF# caf\xC3\xA9\n"),
        ];
        for (text, want) in table {
            assert_eq!(script_bytes(text).as_ref(), *want, "{text:?}");
        }
    }

    #[test]
    fn content_types_cover_every_extension_once() {
        let got = content_types(&[
            "hello.nuspec",
            "tools/chocolateyinstall.ps1",
            "tools/chocolateyuninstall.ps1",
            "package/services/metadata/core-properties/ab.psmdcp",
        ]);
        let exts: Vec<&str> = got
            .split("Extension=\"")
            .skip(1)
            .filter_map(|s| s.split('"').next())
            .collect();
        assert_eq!(exts, ["rels", "nuspec", "ps1", "psmdcp"]);
        assert!(got.contains(
            r#"Extension="psmdcp" ContentType="application/vnd.openxmlformats-package.core-properties+xml""#
        ));
    }
}
