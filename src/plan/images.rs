//! Planning the release's container images: the `[images]` matrix expanded,
//! each image variant (a distro, say) with its tags, and each of its
//! platforms tied to the binary target built for that platform.
//!
//! Part of `plan`, so pure. The dependency edge from an image to the build
//! of its binary is what guarantees images are never rebuilt from source:
//! the image job only copies that binary into a build context.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use indexmap::IndexMap;
use serde::Serialize;

use super::steps::{Renderer, matches};
use super::{Target, axes, slugify};
use crate::config::{ConfigError, Images, KeyPath, NativeMode};
use crate::template::Vars;

/// Folder under dist/ with image build contexts and the OCI store.
pub const IMAGE_DIR: &str = "images";

#[derive(Debug, Clone, Serialize)]
pub struct ImagePlan {
    /// Repositories every tag is given to.
    pub repositories: Vec<String>,
    pub native: NativeMode,
    /// Write each variant as an OCI layout archive into dist/.
    pub oci_archives: bool,
    /// Push each variant's index to every repository under every tag.
    pub push: bool,
    /// `[sbom]`: every platform image gets its SBOM and provenance attached
    /// in the variant's index as attestation manifests.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub attest: bool,
    pub variants: Vec<ImageVariant>,
}

/// One multi-platform image: every tag points at its index.
#[derive(Debug, Clone, Serialize)]
pub struct ImageVariant {
    /// The non-platform values joined by `/`, e.g. `debian`.
    pub id: String,
    pub slug: String,
    pub values: IndexMap<String, String>,
    /// Tags in order: the configured ones, then floating ones.
    pub tags: Vec<String>,
    /// File name of the OCI layout archive in dist/.
    pub archive: String,
    pub platforms: Vec<PlatformImage>,
}

/// One platform of a variant: a Dockerfile build around one binary.
#[derive(Debug, Clone, Serialize)]
pub struct PlatformImage {
    /// OCI platform, e.g. `linux/arm64`, `linux/arm/v7`.
    pub platform: String,
    pub os: String,
    pub arch: String,
    pub variant: Option<String>,
    /// `debian-linux-arm64`: names the job and the context folder.
    pub slug: String,
    /// Index into `Plan::targets` of the binary it ships.
    pub target: usize,
    pub dockerfile: PathBuf,
    pub args: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    /// Extra context files: globs relative to the project root.
    pub context_files: Vec<String>,
    /// The single-platform tag it gets in the engine: `<repo>:<tag>-<arch>`.
    pub local_tag: String,
}

/// An OCI platform string split into its parts, with `arm64/v8` and a bare
/// `arm` normalised the way registries do.
fn split_platform(p: &str) -> Option<(String, String, Option<String>)> {
    let parts: Vec<&str> = p.split('/').collect();
    let (os, arch, variant) = match parts.as_slice() {
        [os, arch] => (*os, *arch, None),
        [os, arch, variant] => (*os, *arch, Some(*variant)),
        _ => return None,
    };
    if os.is_empty() || arch.is_empty() {
        return None;
    }
    let variant = match (arch, variant) {
        ("arm64", Some("v8")) => None,
        ("arm", None) => Some("v7"),
        (_, v) => v,
    };
    Some((os.into(), arch.into(), variant.map(str::to_string)))
}

/// Docker's tag grammar: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`. A semver `+`
/// (build metadata) is not allowed in tags, so it becomes `-`.
pub fn tag_for(rendered: &str) -> Result<String, String> {
    let tag = rendered.replace('+', "-");
    let ok = !tag.is_empty()
        && tag.len() <= 128
        && !tag.starts_with(['.', '-'])
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if ok {
        Ok(tag)
    } else {
        Err(format!(
            "{rendered:?} is not a valid image tag (letters, digits, '_', '.', '-'; at most 128; not starting with '.' or '-')"
        ))
    }
}

/// One platform of the `[images.matrix]`, as written and split.
struct Platform {
    /// As written, e.g. `linux/arm64/v8`.
    text: String,
    os: String,
    arch: String,
    variant: Option<String>,
}

impl<'a> Renderer<'a> {
    /// Expands `[images]` against the selected binary targets. A platform
    /// whose binary was filtered out with `--target` is left out with a
    /// warning; one with no binary target at all is an error.
    pub(super) fn images(
        &self,
        images: &Images,
        targets: &[Target],
        warnings: &mut Vec<String>,
    ) -> Result<ImagePlan, ConfigError> {
        let source = self.source();
        let root = KeyPath::parse("images");
        let expanded = axes::expand_at(
            &images.matrix,
            &root.clone().key("matrix"),
            self.loaded.config.limits.max_targets,
            source,
        )?;
        self.check_images(images, targets, &expanded.axes)?;

        let mut variants: IndexMap<String, ImageVariant> = IndexMap::new();
        for combination in &expanded.combinations {
            let platform = combination.get("platform").cloned().unwrap_or_default();
            let at_platform = root.clone().key("matrix").key("platform");
            let Some((os, arch, variant)) = split_platform(&platform) else {
                return Err(source.error_at(
                    &at_platform,
                    format!("{platform:?} is not a platform"),
                    Some(
                        "write os/arch or os/arch/variant, e.g. \"linux/arm64\", \"linux/arm/v7\""
                            .into(),
                    ),
                ));
            };
            let platform = Platform {
                text: platform,
                os,
                arch,
                variant,
            };
            let values: IndexMap<String, String> = combination
                .iter()
                .filter(|(k, _)| k.as_str() != "platform")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let id = if values.is_empty() {
                "default".to_string()
            } else {
                values.values().cloned().collect::<Vec<_>>().join("/")
            };
            let slug = slugify(&id);

            let Some(target) = self.image_target(images, targets, &id, &platform, warnings)? else {
                continue;
            };
            let t = &targets[target];

            // The image's own values (distro, platform) and its binary's target.
            let mut vars = self.vars_for(combination, &t.id, &t.slug, t.platform);
            vars.set("bin", t.build.binary.as_str());

            let entry = match variants.get_mut(&id) {
                Some(v) => v,
                None => {
                    let v = self.variant(images, &id, &slug, &values, &vars)?;
                    variants.entry(id.clone()).or_insert(v)
                }
            };
            let image = self.platform_image(images, t, target, platform, entry, &vars)?;
            entry.platforms.push(image);
        }
        let mut repositories = Vec::new();
        for (i, r) in images.repositories.iter().enumerate() {
            repositories.push(self.render(
                r,
                &self.base,
                &root.clone().key("repositories").index(i),
            )?);
        }
        Ok(ImagePlan {
            repositories,
            native: images.native,
            oci_archives: self.req.oci_archives,
            push: self.req.push,
            attest: self.loaded.config.sbom.is_some(),
            variants: variants.into_values().collect(),
        })
    }

    /// What `[images]` must have before any platform is planned: a
    /// `platform` axis, a repository, and `binary-from` keys of [matrix].
    fn check_images(
        &self,
        images: &Images,
        targets: &[Target],
        axes: &[String],
    ) -> Result<(), ConfigError> {
        let source = self.source();
        let root = KeyPath::parse("images");
        if !axes.iter().any(|a| a == "platform") {
            return Err(source.error_at(
                &root.clone().key("matrix"),
                "[images.matrix] needs a `platform` axis",
                Some("e.g. platform = [\"linux/amd64\", \"linux/arm64\"]".into()),
            ));
        }
        if images.repositories.is_empty() {
            return Err(source.error_at(
                &root.clone().key("repositories"),
                "[images] needs at least one repository",
                Some("e.g. repositories = [\"ghcr.io/you/{{ project }}\"]".into()),
            ));
        }
        let binary_keys: BTreeSet<&str> = targets
            .iter()
            .flat_map(|t| t.values.keys().map(String::as_str))
            .collect();
        for key in images.binary_from.iter().flat_map(|w| w.keys()) {
            if !binary_keys.contains(key.as_str()) {
                return Err(source.error_at(
                    &root.clone().key("binary-from").key(key),
                    format!("`binary-from` names `{key}`, which is not a key of [matrix]"),
                    Some(format!(
                        "[matrix] keys: {}",
                        binary_keys.iter().copied().collect::<Vec<_>>().join(", ")
                    )),
                ));
            }
        }
        Ok(())
    }

    /// The one binary target an image platform ships (index into
    /// `targets`); `None` when `--target` left it out (with a warning).
    fn image_target(
        &self,
        images: &Images,
        targets: &[Target],
        id: &str,
        wanted: &Platform,
        warnings: &mut Vec<String>,
    ) -> Result<Option<usize>, ConfigError> {
        let source = self.source();
        let root = KeyPath::parse("images");
        let at_platform = root.clone().key("matrix").key("platform");
        let filtered = !self.req.filters.is_empty();
        let (platform, os, arch) = (&wanted.text, &wanted.os, &wanted.arch);
        let candidates: Vec<usize> = targets
            .iter()
            .enumerate()
            .filter(|(_, t)| {
                t.platform
                    .and_then(|p| p.docker_platform)
                    .and_then(split_platform)
                    .is_some_and(|(o, a, v)| o == *os && a == *arch && v == wanted.variant)
            })
            .filter(|(_, t)| {
                images
                    .binary_from
                    .as_ref()
                    .is_none_or(|w| matches(w, &t.values))
            })
            .map(|(i, _)| i)
            .collect();
        match candidates.as_slice() {
            [one] => Ok(Some(*one)),
            [] if filtered => {
                warnings.push(format!(
                    "image {id} for {platform} is left out: --target did not select a binary for {platform}"
                ));
                Ok(None)
            }
            [] => Err(source.error_at(
                &at_platform,
                format!("no binary target is built for the image platform {platform}"),
                Some(format!(
                    "add {os}/{arch} to [matrix], or remove {platform} from [images.matrix]"
                )),
            )),
            many => {
                let ids: Vec<&str> = many.iter().map(|&i| targets[i].id.as_str()).collect();
                Err(source.error_at(
                    &root.clone().key("binary-from"),
                    format!(
                        "the image platform {platform} matches the binary targets {}",
                        ids.join(", ")
                    ),
                    Some(
                        "pick one with binary-from, e.g. binary-from = { libc = \"musl\" }".into(),
                    ),
                ))
            }
        }
    }

    /// One platform of the image `entry`: its Dockerfile, build args,
    /// labels and local tag, around the binary of `targets[target]` (`t`).
    fn platform_image(
        &self,
        images: &Images,
        t: &Target,
        target: usize,
        platform: Platform,
        entry: &ImageVariant,
        vars: &Vars,
    ) -> Result<PlatformImage, ConfigError> {
        let root = KeyPath::parse("images");
        let Platform {
            text: platform,
            os,
            arch,
            variant,
        } = platform;
        let dockerfile_at = root.clone().key("dockerfile");
        let dockerfile = super::join_clean(
            &self.req.root,
            &self.render(&images.dockerfile, vars, &dockerfile_at)?,
        );
        let mut args = BTreeMap::new();
        let v = &self.req.version;
        for (k, val) in [
            ("VERSION", v.version.as_str()),
            ("COMMIT", v.commit.as_str()),
            ("TARGETPLATFORM", platform.as_str()),
            ("TARGETOS", os.as_str()),
            ("TARGETARCH", arch.as_str()),
            ("TARGETVARIANT", variant.as_deref().unwrap_or("")),
            ("BINARY", t.build.binary.as_str()),
        ] {
            args.insert(k.to_string(), val.to_string());
        }
        for (k, template) in &images.args {
            args.insert(
                k.clone(),
                self.render(template, vars, &root.clone().key("args").key(k))?,
            );
        }
        let mut labels = self.oci_labels();
        for (k, template) in &images.labels {
            labels.insert(
                k.clone(),
                self.render(template, vars, &root.clone().key("labels").key(k))?,
            );
        }
        let platform_slug = slugify(&platform);
        let local_tag = format!(
            "{}:{}-{}",
            images_repo(&self.render(
                &images.repositories[0],
                vars,
                &root.clone().key("repositories").index(0)
            )?),
            entry
                .tags
                .first()
                .cloned()
                .unwrap_or_else(|| "latest".into()),
            platform_slug.trim_start_matches("linux-"),
        );
        Ok(PlatformImage {
            platform: format!(
                "{os}/{arch}{}",
                variant
                    .as_deref()
                    .map(|v| format!("/{v}"))
                    .unwrap_or_default()
            ),
            os,
            arch,
            variant,
            slug: format!("{}-{platform_slug}", entry.slug),
            target,
            dockerfile,
            args,
            labels,
            context_files: images.context_files.clone(),
            local_tag,
        })
    }

    fn variant(
        &self,
        images: &Images,
        id: &str,
        slug: &str,
        values: &IndexMap<String, String>,
        vars: &Vars,
    ) -> Result<ImageVariant, ConfigError> {
        let root = KeyPath::parse("images");
        let v = &self.req.version;
        let release = !v.is_snapshot && v.prerelease.is_empty();
        let mut tags: Vec<String> = Vec::new();
        let mut add = |rendered: String, at: &KeyPath| -> Result<(), ConfigError> {
            let tag = tag_for(&rendered).map_err(|why| {
                self.source()
                    .error_at(at, why, Some("change the tag template".into()))
            })?;
            if !tags.contains(&tag) {
                tags.push(tag);
            }
            Ok(())
        };
        let default_tags = [if values.contains_key("distro") {
            "{{ version }}-{{ distro }}".to_string()
        } else {
            "{{ version }}".to_string()
        }];
        let configured = images.tags.as_deref().unwrap_or(&default_tags);
        for (i, t) in configured.iter().enumerate() {
            let at = root.clone().key("tags").index(i);
            add(self.render(t, vars, &at)?, &at)?;
        }
        // The default image: the named distro, or the only kind of image
        // when there is no distro axis at all.
        let default = match (images.default_distro.as_deref(), values.get("distro")) {
            (Some(d), Some(v)) => d == v,
            (None, None) => true,
            _ => false,
        };
        if default {
            add(v.version.clone(), &root.clone().key("default-distro"))?;
        }
        if release {
            for (i, t) in images.floating_tags.iter().enumerate() {
                let at = root.clone().key("floating-tags").index(i);
                add(self.render(t, vars, &at)?, &at)?;
            }
            if default {
                add("latest".into(), &root.clone().key("default-distro"))?;
            }
        }
        let archive = format!(
            "{}_{}_{slug}.oci.tar",
            self.loaded.config.project.name, v.version
        );
        super::names::check_file_name(&archive, self.source(), &root.clone().key("matrix"), None)?;
        Ok(ImageVariant {
            id: id.to_string(),
            slug: slug.to_string(),
            values: values.clone(),
            tags,
            archive,
            platforms: Vec::new(),
        })
    }

    /// The org.opencontainers.image labels every image carries.
    fn oci_labels(&self) -> BTreeMap<String, String> {
        let p = &self.loaded.config.project;
        let v = &self.req.version;
        let created = time::OffsetDateTime::from_unix_timestamp(v.timestamp)
            .ok()
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_default();
        let mut labels = BTreeMap::new();
        for (k, val) in [
            ("title", p.name.as_str()),
            ("version", v.version.as_str()),
            ("revision", v.commit.as_str()),
            ("created", created.as_str()),
            ("source", p.homepage.as_str()),
            ("url", p.homepage.as_str()),
            ("licenses", p.license.as_str()),
            ("description", p.description.as_str()),
        ] {
            if !val.is_empty() {
                labels.insert(format!("org.opencontainers.image.{k}"), val.to_string());
            }
        }
        labels
    }
}

/// The repository part of a reference, lowercased as engines require.
fn images_repo(r: &str) -> String {
    r.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms_split_and_normalise() {
        let cases = [
            ("linux/amd64", Some(("linux", "amd64", None))),
            ("linux/arm64/v8", Some(("linux", "arm64", None))),
            ("linux/arm", Some(("linux", "arm", Some("v7")))),
            ("linux/arm/v6", Some(("linux", "arm", Some("v6")))),
            ("linux", None),
            ("linux//", None),
            ("a/b/c/d", None),
        ];
        for (input, want) in cases {
            let got = split_platform(input);
            let want = want.map(|(o, a, v): (&str, &str, Option<&str>)| {
                (o.to_string(), a.to_string(), v.map(str::to_string))
            });
            assert_eq!(got, want, "{input}");
        }
    }

    #[test]
    fn tags_follow_docker_grammar() {
        assert_eq!(tag_for("0.0.2-rc.1-alpine").unwrap(), "0.0.2-rc.1-alpine");
        assert_eq!(tag_for("1.0.0+build.5").unwrap(), "1.0.0-build.5");
        assert!(tag_for("-x").is_err());
        assert!(tag_for("a b").is_err());
        assert!(tag_for("").is_err());
        assert!(tag_for(&"x".repeat(129)).is_err());
    }
}
