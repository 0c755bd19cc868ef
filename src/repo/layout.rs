//! [`Layout`]: where each artifact of a release lives in a repository.
//!
//! Part of `repo`, used by [`super::publish`] before anything is written: a
//! layout is a minijinja template rendered once per artifact, and the
//! resulting paths are checked (relative, no `..`, not under the
//! repository's own directories) and must all differ. Pure: no I/O.
//!
//! Variables: `version`, `project` (the project name), `artifact` (the file
//! name), `target` (target id, `""` for release-wide files such as the
//! checksums file), `values` (the target's matrix values, empty for
//! release-wide files), `os` and `arch` (from the values, `""` when absent)
//! and `debian_arch` (Debian's name for the os/arch/variant, `""` when it has
//! none).

use indexmap::IndexMap;
use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::Serialize;

use super::{RESERVED, RepoError};
use crate::package::manifest::Manifest;

/// The flat preset: one directory per version.
pub const FLAT: &str = "{{ version }}/{{ artifact }}";

/// The Garden Linux preset, after its repository layout proposal:
/// `<arch>/<platform>-<extensions>-<modifiers>-<version>-<artifact>`.
///
/// - arch: `debian_arch`, else the `arch` value, else `all`;
/// - platform: the `platform` value (aws, gcp, metal, ...), else `os`;
/// - extensions, modifiers: the `extensions` / `modifiers` values, lists
///   written `ghost,chost` joined with `_` (`-` separates the fields);
/// - an empty field is left out with its `-`, so a project without those
///   axes gets `amd64/linux-1.2.0-hello.tar.gz`, never `linux---1.2.0`;
/// - release-wide files (no target) go to `<version>/<artifact>`.
pub const GARDENLINUX: &str = r#"
{%- if target -%}
{{ debian_arch or arch or "all" }}/
{%- set platform = values.platform|default("") or os -%}
{%- set extensions = values.extensions|default("")|split(",")|map("trim")|select|join("_") -%}
{%- set modifiers = values.modifiers|default("")|split(",")|map("trim")|select|join("_") -%}
{{ [platform, extensions, modifiers, version, artifact]|select|join("-") }}
{%- else -%}
{{ version }}/{{ artifact }}
{%- endif -%}
"#;

/// A template for an artifact's path inside the repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    template: String,
}

/// What a layout template sees for one artifact.
#[derive(Serialize)]
struct Context<'a> {
    version: &'a str,
    project: &'a str,
    artifact: &'a str,
    target: &'a str,
    values: &'a IndexMap<String, String>,
    debian_arch: &'a str,
    os: &'a str,
    arch: &'a str,
}

impl Layout {
    /// A layout from a template (a user's, from the configuration).
    pub fn new(template: impl Into<String>) -> Self {
        Layout {
            template: template.into(),
        }
    }

    /// `{{ version }}/{{ artifact }}`.
    pub fn flat() -> Self {
        Layout::new(FLAT)
    }

    /// See [`GARDENLINUX`].
    pub fn gardenlinux() -> Self {
        Layout::new(GARDENLINUX)
    }

    /// A preset by name: `flat` or `gardenlinux`.
    pub fn preset(name: &str) -> Option<Self> {
        match name {
            "flat" => Some(Layout::flat()),
            "gardenlinux" => Some(Layout::gardenlinux()),
            _ => None,
        }
    }

    pub fn template(&self) -> &str {
        &self.template
    }

    /// The repository path of every artifact of `manifest`, as
    /// `(artifact name, path)` in manifest order. Fails on a render error, a
    /// path that would leave the repository or enter its own directories,
    /// and two artifacts sharing a path (or one's path inside another's).
    pub fn paths(&self, manifest: &Manifest) -> Result<Vec<(String, String)>, RepoError> {
        let env = environment();
        let template = env
            .template_from_str(&self.template)
            .map_err(|e| self.error("(every artifact)", &e))?;
        let no_values = IndexMap::new();
        let mut out = Vec::with_capacity(manifest.artifacts.len());
        for artifact in &manifest.artifacts {
            let target = match &artifact.target {
                Some(id) => Some(manifest.targets.iter().find(|t| t.id == *id).ok_or_else(
                    || RepoError::Layout {
                        template: self.template.clone(),
                        artifact: artifact.name.clone(),
                        message: format!("its target {id:?} is not in the manifest"),
                    },
                )?),
                None => None,
            };
            let values = target.map_or(&no_values, |t| &t.values);
            let value = |key: &str| values.get(key).map_or("", String::as_str);
            let (os, arch) = (value("os"), value("arch"));
            let variant = values.get("variant").map(String::as_str);
            let debian_arch = crate::target::platform(os, arch, variant)
                .and_then(|p| p.debian_arch)
                .unwrap_or("");
            let ctx = Context {
                version: &manifest.version,
                project: &manifest.project.name,
                artifact: &artifact.name,
                target: target.map_or("", |t| t.id.as_str()),
                values,
                debian_arch,
                os,
                arch,
            };
            let path = template
                .render(minijinja::Value::from(minijinja::value::Serde(&ctx)))
                .map_err(|e| self.error(&artifact.name, &e))?;
            check_path(&path).map_err(|reason| RepoError::LayoutPath {
                artifact: artifact.name.clone(),
                path: path.clone(),
                reason,
            })?;
            out.push((artifact.name.clone(), path));
        }
        check_distinct(&out)?;
        Ok(out)
    }

    fn error(&self, artifact: &str, e: &minijinja::Error) -> RepoError {
        // The detail carries the part of the template that failed, which
        // the plain message lacks.
        let message = match e.detail() {
            Some(detail) => format!("{e:#}: {detail}"),
            None => format!("{e:#}"),
        };
        RepoError::Layout {
            template: self.template.clone(),
            artifact: artifact.to_owned(),
            message,
        }
    }
}

/// Strict (a misspelt variable is an error, not an empty path part), no
/// HTML escaping (paths are not HTML), trailing newline dropped (a layout
/// kept in a file ends with one).
fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| AutoEscape::None);
    // `--layout` is a template from the command line: a loop that runs
    // away fails ("engine ran out of fuel") instead of hanging the publish.
    // One path per artifact needs a few hundred units.
    env.set_fuel(Some(crate::config::limits::TEMPLATE_FUEL));
    env
}

/// Why `path` cannot be an artifact's place in the repository, if it cannot.
fn check_path(path: &str) -> Result<(), &'static str> {
    if path.is_empty() {
        return Err("is empty");
    }
    if path.starts_with('/') {
        return Err("is absolute");
    }
    if path.contains('\\') {
        return Err("contains a backslash");
    }
    if path.chars().any(char::is_control) {
        return Err("contains a control character");
    }
    let mut parts = path.split('/');
    if parts.clone().any(str::is_empty) {
        return Err("has an empty part");
    }
    if parts.clone().any(|p| p == "." || p == "..") {
        return Err("has a `.` or `..` part");
    }
    if parts.next().is_some_and(|first| RESERVED.contains(&first)) {
        return Err("is under a directory the repository reserves");
    }
    Ok(())
}

/// Every path distinct, and none inside another (a file cannot also be a
/// directory).
fn check_distinct(paths: &[(String, String)]) -> Result<(), RepoError> {
    let mut seen: std::collections::BTreeMap<&str, &str> = Default::default();
    for (name, path) in paths {
        if let Some(first) = seen.insert(path, name) {
            return Err(RepoError::LayoutCollision {
                path: path.clone(),
                first: first.to_owned(),
                second: name.clone(),
            });
        }
    }
    for (name, path) in paths {
        let mut prefix = path.as_str();
        while let Some((parent, _)) = prefix.rsplit_once('/') {
            if let Some(other) = seen.get(parent) {
                return Err(RepoError::LayoutCollision {
                    path: parent.to_owned(),
                    first: (*other).to_owned(),
                    second: format!("{name} (as its directory)"),
                });
            }
            prefix = parent;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::package::Algorithm;
    use crate::package::manifest::{
        Artifact, ArtifactKind, ChecksumFile, FORMAT, Manifest, Project, Target,
    };

    /// A manifest with one artifact per `(name, target id)`; targets are
    /// given as `(id, [(key, value)])`.
    pub(crate) fn manifest(
        version: &str,
        targets: &[(&str, &[(&str, &str)])],
        artifacts: &[(&str, Option<&str>)],
    ) -> Manifest {
        Manifest {
            format: FORMAT.into(),
            format_version: 1,
            project: Project {
                name: "gardenlinux".into(),
                description: String::new(),
                homepage: String::new(),
                license: "MIT".into(),
            },
            version: version.into(),
            tag: version.into(),
            commit: "deadbeef".into(),
            commit_date: "2024-03-14T00:00:00Z".into(),
            timestamp: 0,
            is_snapshot: false,
            config_sha256: "00".into(),
            checksum: ChecksumFile {
                algorithm: Algorithm::Sha256,
                file: "SHA256SUMS".into(),
            },
            targets: targets
                .iter()
                .map(|(id, values)| Target {
                    id: (*id).into(),
                    values: values
                        .iter()
                        .map(|(k, v)| ((*k).into(), (*v).into()))
                        .collect(),
                    verify: true,
                })
                .collect(),
            artifacts: artifacts
                .iter()
                .map(|(name, target)| Artifact {
                    name: (*name).into(),
                    path: (*name).into(),
                    kind: ArtifactKind::Archive,
                    format: None,
                    target: target.map(Into::into),
                    size: 0,
                    digest: "sha256:00".into(),
                    binary: None,
                })
                .collect(),
            images: vec![],
            shard: None,
            image_parts: vec![],
            missing_targets: vec![],
            jobs: vec![],
        }
    }

    fn one(layout: &Layout, version: &str, values: &[(&str, &str)], artifact: &str) -> String {
        let m = manifest(version, &[("t", values)], &[(artifact, Some("t"))]);
        let mut paths = layout.paths(&m).unwrap();
        assert_eq!(paths.len(), 1);
        paths.remove(0).1
    }

    #[test]
    fn flat_layout() {
        let m = manifest(
            "1.2.0",
            &[("linux/amd64", &[("os", "linux"), ("arch", "amd64")])],
            &[
                ("hello-linux-amd64.tar.gz", Some("linux/amd64")),
                ("SHA256SUMS", None),
            ],
        );
        assert_eq!(
            Layout::flat().paths(&m).unwrap(),
            vec![
                (
                    "hello-linux-amd64.tar.gz".into(),
                    "1.2.0/hello-linux-amd64.tar.gz".into()
                ),
                ("SHA256SUMS".into(), "1.2.0/SHA256SUMS".into()),
            ]
        );
    }

    /// (version, target values, artifact, expected path)
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str, &'a str);

    #[test]
    fn gardenlinux_layout_table() {
        let gl = Layout::gardenlinux();
        let cases: &[Case] = &[
            // The proposal's own example.
            (
                "18.0-deadbeef",
                &[
                    ("os", "linux"),
                    ("arch", "amd64"),
                    ("platform", "metal"),
                    ("extensions", "ghost"),
                    ("modifiers", "prod"),
                ],
                "rootf.tar.xz",
                "amd64/metal-ghost-prod-18.0-deadbeef-rootf.tar.xz",
            ),
            // Debian's names: linux/arm (ARMv7 by default) is armhf.
            (
                "1443.0",
                &[("os", "linux"), ("arch", "arm"), ("platform", "aws")],
                "manifest",
                "armhf/aws-1443.0-manifest",
            ),
            (
                "1443.0",
                &[("os", "linux"), ("arch", "ppc64le"), ("platform", "gcp")],
                "manifest",
                "ppc64el/gcp-1443.0-manifest",
            ),
            // Lists are joined with `_`, blanks trimmed, empties dropped.
            (
                "1443.1",
                &[
                    ("os", "linux"),
                    ("arch", "arm64"),
                    ("platform", "azure"),
                    ("extensions", "ghost, chost,"),
                    ("modifiers", "prod,fips"),
                ],
                "rootfs.tar.xz",
                "arm64/azure-ghost_chost-prod_fips-1443.1-rootfs.tar.xz",
            ),
            // No platform value: the os stands in; no extensions/modifiers.
            (
                "1.2.0",
                &[("os", "linux"), ("arch", "amd64")],
                "hello.tar.gz",
                "amd64/linux-1.2.0-hello.tar.gz",
            ),
            // No Debian name for darwin: the arch value is used.
            (
                "1.2.0",
                &[("os", "darwin"), ("arch", "arm64")],
                "hello.tar.gz",
                "arm64/darwin-1.2.0-hello.tar.gz",
            ),
            // Neither os nor arch: `all`, and the fields that exist.
            (
                "1.2.0",
                &[("platform", "kvm")],
                "disk.raw",
                "all/kvm-1.2.0-disk.raw",
            ),
        ];
        for (version, values, artifact, want) in cases {
            assert_eq!(one(&gl, version, values, artifact), *want, "{values:?}");
        }
        // Release-wide files go under the version.
        let m = manifest("1443.0", &[], &[("SHA256SUMS", None)]);
        assert_eq!(gl.paths(&m).unwrap()[0].1, "1443.0/SHA256SUMS");
    }

    #[test]
    fn variables_and_presets() {
        let layout = Layout::new(
            "{{ project }}/{{ target }}/{{ os }}-{{ arch }}-{{ debian_arch }}/{{ values.libc }}/{{ artifact }}\n",
        );
        let got = one(
            &layout,
            "1.0.0",
            &[("os", "linux"), ("arch", "386"), ("libc", "musl")],
            "a.zip",
        );
        // Target id is `t` (see `one`); the trailing newline is dropped.
        assert_eq!(got, "gardenlinux/t/linux-386-i386/musl/a.zip");
        assert_eq!(Layout::preset("flat"), Some(Layout::flat()));
        assert_eq!(
            Layout::preset("gardenlinux").unwrap().template(),
            GARDENLINUX
        );
        assert_eq!(Layout::preset("nested"), None);
    }

    #[test]
    fn bad_paths_are_refused() {
        // (template, reason)
        let cases = [
            ("/srv/{{ artifact }}", "is absolute"),
            ("../{{ artifact }}", "has a `.` or `..` part"),
            ("a/../../{{ artifact }}", "has a `.` or `..` part"),
            ("./{{ artifact }}", "has a `.` or `..` part"),
            ("{{ version }}//{{ artifact }}", "has an empty part"),
            ("{{ version }}/", "has an empty part"),
            ("{{ target }}", "is empty"),
            ("a\\{{ artifact }}", "contains a backslash"),
            ("a\t{{ artifact }}", "contains a control character"),
            (
                ".matrix/{{ artifact }}",
                "is under a directory the repository reserves",
            ),
            (
                "versions/{{ artifact }}",
                "is under a directory the repository reserves",
            ),
            (
                "channels/{{ artifact }}",
                "is under a directory the repository reserves",
            ),
        ];
        let m = manifest("1.0.0", &[], &[("x.tar.gz", None)]);
        for (template, want) in cases {
            let err = Layout::new(template).paths(&m).unwrap_err();
            assert!(
                matches!(&err, RepoError::LayoutPath { reason, .. } if *reason == want),
                "{template}: {err:?}"
            );
        }
        // Reserved only at the top: deeper, the names are ordinary.
        assert!(Layout::new("x/versions/{{ artifact }}").paths(&m).is_ok());
    }

    #[test]
    fn collisions_are_refused() {
        let m = manifest(
            "1.0.0",
            &[("a", &[("os", "linux")]), ("b", &[("os", "linux")])],
            &[("a.tar.gz", Some("a")), ("b.tar.gz", Some("b"))],
        );
        let err = Layout::new("{{ version }}/{{ os }}").paths(&m).unwrap_err();
        assert!(
            matches!(&err, RepoError::LayoutCollision { path, first, second }
                if path == "1.0.0/linux" && first == "a.tar.gz" && second == "b.tar.gz"),
            "{err:?}"
        );
        let help = miette::Diagnostic::help(&err).unwrap().to_string();
        assert!(
            help.contains("include {{ artifact }} (or {{ target }})"),
            "{help}"
        );
        // One artifact's path being another's directory is a collision too.
        let err = Layout::new("{% if target == 'a' %}x{% else %}x/y{% endif %}")
            .paths(&m)
            .unwrap_err();
        assert!(
            matches!(&err, RepoError::LayoutCollision { path, .. } if path == "x"),
            "{err:?}"
        );
    }

    #[test]
    fn template_errors_name_the_artifact() {
        let m = manifest("1.0.0", &[("t", &[])], &[("a.zip", Some("t"))]);
        // Strict: a misspelt variable or a missing value is an error.
        for template in [
            "{{ verison }}/{{ artifact }}",
            "{{ values.platform }}/{{ artifact }}",
        ] {
            let err = Layout::new(template).paths(&m).unwrap_err();
            assert!(
                matches!(&err, RepoError::Layout { artifact, .. } if artifact == "a.zip"),
                "{template}: {err:?}"
            );
        }
        let err = Layout::new("{% if %}").paths(&m).unwrap_err();
        assert!(matches!(err, RepoError::Layout { .. }), "{err:?}");
        // A runaway loop runs out of fuel instead of running for minutes.
        let runaway = "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}{{ artifact }}";
        let err = Layout::new(runaway).paths(&m).unwrap_err();
        assert!(
            matches!(&err, RepoError::Layout { message, .. } if message.contains("fuel")),
            "{err:?}"
        );
        // An artifact naming a target the manifest lacks.
        let m = manifest("1.0.0", &[], &[("a.zip", Some("ghost"))]);
        let err = Layout::flat().paths(&m).unwrap_err();
        assert!(
            matches!(&err, RepoError::Layout { message, .. } if message.contains("\"ghost\"")),
            "{err:?}"
        );
    }
}
