//! The MSI channel (`kind = "msi"`): one Windows Installer package per
//! Windows target it ships, `msi/<name>-<version>-<arch>.msi`, built with
//! msitools' `wixl` from a generated .wxs and finished with `msibuild`.
//!
//! The binary goes to `ProgramFiles\<name>\`, which is appended to the
//! system PATH (an Environment row `=-*PATH` = `[~];[INSTALLDIR]`: set on
//! install, removed on uninstall, system-wide, added last); a
//! MajorUpgrade replaces any older version. wixl 0.101 knows no
//! `<Environment>` element, so the Environment table and its two
//! InstallExecuteSequence actions are added by `msibuild -q` after wixl.
//!
//! Codes, all derived (SHA-256, shaped as RFC 4122 version 5 UUIDs), so a
//! rebuild gives the same ones:
//! - UpgradeCode: the project name (or `upgrade-code`) and the MSI
//!   architecture, stable across versions;
//! - ProductCode: the UpgradeCode and the full release version, new each
//!   release (a pre-release included: 1.2.3-rc.1 and 1.2.3 share the
//!   ProductVersion 1.2.3 but not the ProductCode, and
//!   `AllowSameVersionUpgrades` lets either replace the other; a higher
//!   ProductVersion replaces a lower one, a lower one is refused);
//! - PackageCode: the ProductCode and the binary's SHA-256, set in the
//!   summary information by `msibuild -s` (wixl picks a random one).
//!
//! The payload's time in the embedded cabinet is the release's timestamp.
//! wixl stamps the summary information's creation and last-saved times
//! (PID 12 and 13, two FILETIMEs in `\005SummaryInformation`) with the
//! wall clock and ignores SOURCE_DATE_EPOCH: those 16 bytes (in practice 6
//! or fewer differ) are the only difference between two builds.

mod config;
mod plan;
mod write;

pub(super) use super::registry::no_url_check as check_urls;
pub use config::MsiConfig;
pub use plan::MsiStep;
pub(super) use plan::{PACKAGER, check, plan};
pub(super) use write::{package_file, per_target, write, write_package};

/// The MSI ProductVersion of a SemVer release version: its
/// `major.minor.patch` with any pre-release or build part dropped, each
/// within what Windows Installer compares (major and minor < 256, build
/// < 65536).
pub fn msi_version(version: &str) -> Result<String, String> {
    let core = version.split(['-', '+']).next().unwrap_or_default();
    let parts: Vec<&str> = core.split('.').collect();
    let [major, minor, build] = parts[..] else {
        return Err(format!("{version:?} is not major.minor.patch"));
    };
    let num = |s: &str, max: u32, what: &str| -> Result<u32, String> {
        if s.is_empty() || s.len() > 6 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("{version:?}: {what} {s:?} is not a number"));
        }
        let n: u32 = s
            .parse()
            .map_err(|_| format!("{version:?}: {what} {s:?}"))?;
        if n > max {
            return Err(format!(
                "{version:?}: {what} {n} is above {max}, the most an MSI ProductVersion takes"
            ));
        }
        Ok(n)
    };
    Ok(format!(
        "{}.{}.{}",
        num(major, 255, "major")?,
        num(minor, 255, "minor")?,
        num(build, 65535, "patch")?
    ))
}

/// A version 5 UUID derived from `parts`
/// ([`crate::package::checksum::derived_uuid`]), upper case as MSI writes
/// GUIDs.
pub fn derived_uuid(parts: &[&str]) -> String {
    crate::package::checksum::derived_uuid(parts, 5).to_ascii_uppercase()
}

/// Whether `s` is a GUID, `XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX`, braces
/// optional.
pub fn is_guid(s: &str) -> bool {
    let s = s
        .strip_prefix('{')
        .and_then(|s| s.strip_suffix('}'))
        .unwrap_or(s);
    s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// `s` escaped for an XML attribute.
fn xml(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            c => o.push(c),
        }
    }
    o
}

/// What one package's .wxs says.
pub struct Wxs<'a> {
    pub name: &'a str,
    pub manufacturer: &'a str,
    pub description: &'a str,
    pub version: &'a str,
    /// `x64` or `x86`.
    pub arch: &'a str,
    pub product_code: &'a str,
    pub upgrade_code: &'a str,
    pub component: &'a str,
    /// The executable's file name and where it is on disk.
    pub binary: &'a str,
    pub source: &'a str,
}

/// The .wxs wixl builds the package from.
pub fn render_wxs(w: &Wxs) -> String {
    let win64 = if w.arch == "x64" { "yes" } else { "no" };
    let pf = if w.arch == "x64" {
        "ProgramFiles64Folder"
    } else {
        "ProgramFilesFolder"
    };
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi">
  <Product Id="{product}" Name="{name}" Language="1033" Version="{version}" Manufacturer="{manufacturer}" UpgradeCode="{upgrade}">
    <Package InstallerVersion="200" Compressed="yes" InstallScope="perMachine" Description="{description}" Manufacturer="{manufacturer}"/>
    <MajorUpgrade AllowSameVersionUpgrades="yes" DowngradeErrorMessage="A newer version of {name} is already installed."/>
    <Media Id="1" Cabinet="product.cab" EmbedCab="yes"/>
    <Directory Id="TARGETDIR" Name="SourceDir">
      <Directory Id="{pf}">
        <Directory Id="INSTALLDIR" Name="{name}">
          <Component Id="MainBinary" Guid="{component}" Win64="{win64}">
            <File Id="MainBinaryFile" Name="{binary}" Source="{source}" KeyPath="yes"/>
          </Component>
        </Directory>
      </Directory>
    </Directory>
    <Feature Id="Main" Level="1">
      <ComponentRef Id="MainBinary"/>
    </Feature>
  </Product>
</Wix>
"#,
        product = w.product_code,
        upgrade = w.upgrade_code,
        component = w.component,
        name = xml(w.name),
        version = w.version,
        manufacturer = xml(w.manufacturer),
        description = xml(w.description),
        binary = xml(w.binary),
        source = xml(w.source),
    )
}

/// The SQL `msibuild -q` runs after wixl: the Environment table with the
/// PATH row (`=` set on install, `-` removed on uninstall, `*` system,
/// `[~];` appended last), and the actions that apply it.
pub const ENVIRONMENT_SQL: [&str; 4] = [
    "CREATE TABLE `Environment` (`Environment` CHAR(72) NOT NULL, `Name` CHAR(255) NOT NULL LOCALIZABLE, `Value` CHAR(255) LOCALIZABLE, `Component_` CHAR(72) NOT NULL PRIMARY KEY `Environment`)",
    "INSERT INTO `Environment` (`Environment`, `Name`, `Value`, `Component_`) VALUES ('PATH', '=-*PATH', '[~];[INSTALLDIR]', 'MainBinary')",
    "INSERT INTO `InstallExecuteSequence` (`Action`, `Sequence`) VALUES ('RemoveEnvironmentStrings', 3300)",
    "INSERT INTO `InstallExecuteSequence` (`Action`, `Sequence`) VALUES ('WriteEnvironmentStrings', 5200)",
];

#[cfg(test)]
mod tests;
