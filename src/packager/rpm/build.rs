//! Builds one .rpm in memory with the `rpm` crate: the release's timestamp
//! as build time and every file's time, no build host, root-owned files,
//! gzip payload; the crate adds the SHA-256 header and payload digests
//! `rpm -K` checks.

use super::RpmStep;
use crate::packager::PublishError;
use crate::packager::deb::common::{self, Dep, LinuxStep};
use crate::packager::input::{Package, Release};

/// The .rpm of `package`: its file name and bytes.
pub fn build_rpm(
    step: &RpmStep,
    release: &Release,
    package: &Package,
) -> Result<(String, Vec<u8>), PublishError> {
    let c = &step.common;
    let ch = c.channel.as_str();
    let invalid = |message: String| PublishError::Invalid {
        channel: ch.to_string(),
        message,
        help: None,
    };
    let (arch, version) = common::arch_and_version(ch, package, release, common::rpm_arch)?;
    let time = u32::try_from(release.timestamp).map_err(|_| {
        invalid(format!(
            "release timestamp {} does not fit an RPM time (0 to 2^32-1)",
            release.timestamp
        ))
    })?;
    let entries = common::entries(c, package, Vec::new())?;
    let scripts = common::scripts(c)?;
    let rpm_error = |e: rpm::Error| invalid(format!("building the RPM package: {e}"));

    let license = if c.license.is_empty() {
        "NOASSERTION"
    } else {
        &c.license
    };
    let mut b = rpm::PackageBuilder::new(&c.name, &version, license, arch, c.summary.trim());
    b.using_config(
        rpm::BuildConfig::v4()
            .source_date(time)
            .compression(rpm::CompressionWithLevel::Gzip(9)),
    );
    b.release(step.release.clone());
    if let Some(epoch) = c.epoch {
        b.epoch(epoch);
    }
    describe(&mut b, c);
    let who = c
        .maintainer
        .clone()
        .unwrap_or_else(|| format!("{} authors", c.name));
    let evr = match c.epoch {
        Some(e) => format!("{e}:{version}-{}", step.release),
        None => format!("{version}-{}", step.release),
    };
    b.add_changelog_entry(
        format!("{who} - {evr}"),
        format!("- Release {version}."),
        time,
    );
    for e in &entries {
        let mut options = rpm::FileOptions::new(e.path.clone())
            .mode(rpm::FileMode::regular(e.mode as u16))
            .user("root")
            .group("root");
        if e.config {
            options = options.config().noreplace();
        } else if e.path.starts_with("/usr/share/man/") || e.path.starts_with("/usr/share/doc/") {
            options = options.doc();
        }
        b.with_file_contents(e.bytes.clone(), options)
            .map_err(rpm_error)?;
    }
    for (name, bytes) in scripts {
        let text = String::from_utf8(bytes)
            .map_err(|_| invalid(format!("scripts.{name} is not UTF-8 text")))?;
        let script = rpm::Scriptlet::new(text);
        match name {
            "preinst" => b.pre_install_script(script),
            "postinst" => b.post_install_script(script),
            "prerm" => b.pre_uninstall_script(script),
            _ => b.post_uninstall_script(script),
        };
    }
    relations(&mut b, c);
    let pkg = b.build().map_err(rpm_error)?;
    let mut bytes = Vec::new();
    pkg.write(&mut bytes).map_err(rpm_error)?;
    Ok((file_name(step, release, package)?, bytes))
}

/// The .rpm's file name, `<name>-<version>-<release>.<arch>.rpm`, or why
/// `package` makes no .rpm.
pub fn file_name(
    step: &RpmStep,
    release: &Release,
    package: &Package,
) -> Result<String, PublishError> {
    let c = &step.common;
    let ch = c.channel.as_str();
    let (arch, version) = common::arch_and_version(ch, package, release, common::rpm_arch)?;
    Ok(format!("{}-{version}-{}.{arch}.rpm", c.name, step.release))
}

/// The package's description, URL, packager, group and build host.
fn describe(b: &mut rpm::PackageBuilder, c: &LinuxStep) {
    let description = if c.description.trim().is_empty() {
        c.summary.trim().to_string()
    } else {
        c.description.trim().to_string()
    };
    b.description(description);
    if !c.homepage.is_empty() {
        b.url(c.homepage.clone());
    }
    if let Some(m) = &c.maintainer {
        b.packager(m.clone());
    }
    // rpmlint wants a Group (not `Unspecified`), a build host and a
    // changelog: fixed ones.
    b.group(if c.section.is_empty() {
        "Applications/System".to_string()
    } else {
        c.section.clone()
    });
    b.build_host("localhost");
}

/// Requires, Recommends, Conflicts and Provides.
fn relations(b: &mut rpm::PackageBuilder, c: &LinuxStep) {
    for dep in c.depends.iter().filter_map(one) {
        b.requires(dep);
    }
    for dep in c.recommends.iter().filter_map(one) {
        b.recommends(dep);
    }
    for dep in c.conflicts.iter().filter_map(one) {
        b.conflicts(dep);
    }
    for dep in c.provides.iter().filter_map(one) {
        b.provides(dep);
    }
}

/// An rpm dependency of a single-alternative one (the plan refuses
/// alternatives for rpm).
fn one(dep: &Dep) -> Option<rpm::Dependency> {
    let [rel] = dep.0.as_slice() else {
        return None;
    };
    let name = rel.name.clone();
    Some(match &rel.version {
        None => rpm::Dependency::any(name),
        Some((op, v)) => match op.as_str() {
            "<<" => rpm::Dependency::less(name, v.clone()),
            "<=" => rpm::Dependency::less_eq(name, v.clone()),
            "=" => rpm::Dependency::eq(name, v.clone()),
            ">=" => rpm::Dependency::greater_eq(name, v.clone()),
            _ => rpm::Dependency::greater(name, v.clone()),
        },
    })
}
