//! The Debian packages an image holds, from dpkg's database as the image
//! carries it: `var/lib/dpkg/status` (one paragraph per package, with its
//! `Status`), or the one-file-per-package `var/lib/dpkg/status.d/*` of
//! distroless images (no `Status`: every file is an installed package).
//!
//! The text comes from an image's layer, so it is read defensively: at
//! most [`MAX_PACKAGES`] packages, fields without a value ignored, a
//! paragraph without a name or version left out.

use crate::image::attestation::purl_encode;

/// Packages one image may list.
pub const MAX_PACKAGES: usize = 100_000;

/// An installed Debian package.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Deb {
    pub name: String,
    pub version: String,
    pub arch: String,
    /// The source package when it differs from the name (without its
    /// version), else empty.
    pub source: String,
}

/// The installed packages of a dpkg status text, sorted, each once.
pub fn parse(text: &str, into: &mut Vec<Deb>) -> Result<(), String> {
    for paragraph in text.split("\n\n") {
        let mut fields: Vec<(&str, &str)> = Vec::new();
        for line in paragraph.lines() {
            if line.starts_with([' ', '\t']) {
                continue; // a continuation (Description, Conffiles)
            }
            if let Some((k, v)) = line.split_once(':') {
                fields.push((k.trim(), v.trim()));
            }
        }
        let get = |key: &str| {
            fields
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| *v)
        };
        let (Some(name), Some(version)) = (get("Package"), get("Version")) else {
            continue;
        };
        // "install ok installed": the third word is the package's state.
        if let Some(status) = get("Status")
            && status.split_whitespace().nth(2) != Some("installed")
        {
            continue;
        }
        let source = get("Source")
            .and_then(|s| s.split_whitespace().next())
            .filter(|s| *s != name)
            .unwrap_or_default();
        into.push(Deb {
            name: name.to_string(),
            version: version.to_string(),
            arch: get("Architecture").unwrap_or_default().to_string(),
            source: source.to_string(),
        });
        if into.len() > MAX_PACKAGES {
            return Err(format!("more than {MAX_PACKAGES} packages"));
        }
    }
    into.sort();
    into.dedup();
    Ok(())
}

/// The package URL of a Debian package: `pkg:deb/<distro>/<name>@<version>?arch=<arch>`.
pub fn purl(distro: &str, deb: &Deb) -> String {
    let mut p = format!(
        "pkg:deb/{}/{}@{}",
        purl_encode(distro),
        purl_encode(&deb.name),
        purl_encode(&deb.version)
    );
    if !deb.arch.is_empty() {
        p.push_str("?arch=");
        p.push_str(&purl_encode(&deb.arch));
    }
    p
}

/// The distribution named by an os-release file (`ID=`), when it is a
/// plain lowercase word; `debian` otherwise.
pub fn distro(os_release: Option<&[u8]>) -> String {
    let text = os_release.map(String::from_utf8_lossy).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("ID="))
        .map(|v| v.trim().trim_matches('"').to_string())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        })
        .unwrap_or_else(|| "debian".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installed_packages_are_read_and_others_left_out() {
        let text = "Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nSource: glibc\nVersion: 2.36-9+deb12u4\nDescription: GNU C Library\n more text: here\n\n\
Package: gone\nStatus: deinstall ok config-files\nVersion: 1\n\n\
Package: bash\nStatus: install ok installed\nVersion: 5.2.15-2+b2\nArchitecture: amd64\nSource: bash\n\n\
Package: noversion\nStatus: install ok installed\n";
        let mut debs = Vec::new();
        parse(text, &mut debs).unwrap();
        assert_eq!(debs.len(), 2);
        assert_eq!(debs[0].name, "bash");
        assert_eq!(debs[0].source, "");
        assert_eq!(debs[1].source, "glibc");
        assert_eq!(
            purl("debian", &debs[1]),
            "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64"
        );
        // status.d: no Status field.
        let mut more = debs.clone();
        parse(
            "Package: base-files\nVersion: 12.4\nArchitecture: all\n",
            &mut more,
        )
        .unwrap();
        assert_eq!(more.len(), 3);
        assert_eq!(distro(Some(b"NAME=x\nID=ubuntu\n")), "ubuntu");
        assert_eq!(distro(Some(b"ID=\"../evil\"\n")), "debian");
        assert_eq!(distro(None), "debian");
    }
}
