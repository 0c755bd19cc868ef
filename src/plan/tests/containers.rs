//! Plan tests for container jobs, builders and the image matrix.

use super::*;
use crate::plan::containers::ContainerImage;

const BASE: &str = r#"
[project]
name = "hello"
homepage = "https://example.org/hello"
license = "MIT"

[matrix]
os = ["linux"]
arch = ["amd64", "arm64"]

[build]
command = "go build -o {{ out }}/{{ bin }} ."
binary = "hello"
"#;

const IMAGES: &str = r#"
[images]
repositories = ["127.0.0.1:5000/{{ project }}"]
dockerfile = "docker/hello-{{ distro }}.Dockerfile"
floating-tags = ["latest-{{ distro }}"]
default-distro = "busybox"
args = { BASE = "base/{{ distro }}:{{ target.debian_arch }}" }

[images.matrix]
distro = ["busybox", "scratch"]
platform = ["linux/amd64", "linux/arm64"]
"#;

fn with(extra_build: &str, rest: &str) -> String {
    let text = BASE.replace(
        "binary = \"hello\"\n",
        &format!("binary = \"hello\"\n{extra_build}\n"),
    );
    format!("{text}{rest}")
}

#[test]
fn container_and_builder_choice_per_target() {
    let text = with(
        "container = \"golang:1.22\"\noverrides = [ { when = { arch = \"arm64\" }, builder = \"go\" } ]",
        "[builders.go]\ndockerfile = \"docker/builder-go.Dockerfile\"\nargs = { BASE = \"{{ env.HOME }}/base\" }\n",
    );
    let plan = plan_of(&text, &[]).unwrap();
    assert_eq!(
        plan.targets[0].build.container,
        Some(ContainerImage::Image {
            reference: "golang:1.22".into()
        })
    );
    assert_eq!(
        plan.targets[1].build.container,
        Some(ContainerImage::Builder { name: "go".into() })
    );
    assert_eq!(plan.builders.len(), 1);
    let b = &plan.builders[0];
    assert_eq!(b.repository, "matrix-builder/hello-go");
    assert_eq!(b.context, PathBuf::from("/src/hello/docker"));
    assert_eq!(b.args["BASE"], "/home/me/base");
    let job = |id: &str| plan.jobs.iter().find(|j| j.id == id).unwrap();
    assert_eq!(job("builder-go").kind, JobKind::Builder);
    assert!(job("builder-go").uses_engine);
    assert_eq!(job("build-linux-arm64").needs, ["builder-go"]);
    assert!(job("build-linux-amd64").needs.is_empty());
    assert!(job("build-linux-amd64").uses_engine);
    assert!(!job("archive-linux-amd64").uses_engine);
    let c = plan.containers.as_ref().unwrap();
    assert_eq!(c.engine, None);
}

#[test]
fn an_empty_container_runs_on_the_host_and_unused_builders_are_left_out() {
    let text = with(
        "container = \"golang:1.22\"\noverrides = [ { when = { arch = \"arm64\" }, container = \"\" } ]",
        "[builders.unused]\ndockerfile = \"x\"\n",
    );
    let plan = plan_of(&text, &[]).unwrap();
    assert!(plan.targets[1].build.container.is_none());
    assert!(plan.builders.is_empty());
    assert!(!plan.jobs.iter().any(|j| j.kind == JobKind::Builder));
}

#[test]
fn container_config_errors_point_at_the_key() {
    let cases = [
        (
            with("builder = \"nope\"", ""),
            "there is no [builders.nope]",
            14,
        ),
        (
            with(
                "builder = \"go\"\ncontainer = \"x\"",
                "[builders.go]\ndockerfile = \"d\"\n",
            ),
            "both name an image",
            14,
        ),
        (
            with("", "[container]\ncaches = { go = \"relative/path\" }\n"),
            "is not absolute",
            16,
        ),
        (
            with("", "[container]\nengine = \"lxc\"\n"),
            "unknown variant `lxc`",
            16,
        ),
    ];
    for (text, want, line) in cases {
        let err = match config::parse(Path::new("matrix.toml"), text.clone()) {
            Err(config::LoadError::Invalid(e)) => e,
            other => panic!("{want}: expected an error, got {other:?}"),
        };
        assert!(err.message.contains(want), "{} lacks {want}", err.message);
        assert_eq!(err.line, line, "{want}");
    }
}

#[test]
fn an_image_that_looks_like_an_option_is_refused() {
    // `docker run ... --privileged -c ...` would take it as a flag.
    for image in ["--privileged", "-v/:/host"] {
        let e = config_error(&with(&format!("container = \"{image}\""), ""));
        assert!(
            e.message.contains("which is not an image reference"),
            "{image}: {}",
            e.message
        );
    }
}

#[test]
fn the_engine_comes_from_the_environment_first() {
    let text = with("container = \"x\"", "[container]\nengine = \"podman\"\n");
    let loaded = config::parse(Path::new("matrix.toml"), text).unwrap();
    let mut req = request(&[]);
    assert_eq!(
        build(&loaded, &req).unwrap().containers.unwrap().engine,
        Some(crate::config::EngineKind::Podman)
    );
    req.env
        .insert("MATRIX_CONTAINER_ENGINE".into(), "docker".into());
    assert_eq!(
        build(&loaded, &req).unwrap().containers.unwrap().engine,
        Some(crate::config::EngineKind::Docker)
    );
    req.env
        .insert("MATRIX_CONTAINER_ENGINE".into(), "rkt".into());
    match build(&loaded, &req) {
        Err(PlanError::Config(e)) => assert!(e.message.contains("rkt"), "{}", e.message),
        other => panic!("{other:?}"),
    }
}

#[test]
fn image_matrix_expands_with_tags_args_and_edges() {
    let plan = plan_of(&with("", IMAGES), &[]).unwrap();
    let images = plan.images.as_ref().unwrap();
    assert_eq!(images.repositories, ["127.0.0.1:5000/hello"]);
    let ids: Vec<&str> = images.variants.iter().map(|v| v.id.as_str()).collect();
    assert_eq!(ids, ["busybox", "scratch"]);
    let busybox = &images.variants[0];
    assert_eq!(
        busybox.tags,
        ["1.2.3-busybox", "1.2.3", "latest-busybox", "latest"]
    );
    assert_eq!(images.variants[1].tags, ["1.2.3-scratch", "latest-scratch"]);
    assert_eq!(busybox.archive, "hello_1.2.3_busybox.oci.tar");
    let arm = &busybox.platforms[1];
    assert_eq!(arm.platform, "linux/arm64");
    assert_eq!(plan.targets[arm.target].id, "linux/arm64");
    assert_eq!(arm.args["BASE"], "base/busybox:arm64");
    assert_eq!(arm.args["TARGETARCH"], "arm64");
    assert_eq!(arm.args["VERSION"], "1.2.3");
    assert_eq!(
        arm.dockerfile,
        PathBuf::from("/src/hello/docker/hello-busybox.Dockerfile")
    );
    assert_eq!(arm.local_tag, "127.0.0.1:5000/hello:1.2.3-busybox-arm64");
    assert_eq!(arm.labels["org.opencontainers.image.version"], "1.2.3");
    assert_eq!(
        arm.labels["org.opencontainers.image.created"],
        "2023-11-14T22:13:20Z"
    );
    assert_eq!(arm.labels["org.opencontainers.image.licenses"], "MIT");
    assert_eq!(
        arm.labels["org.opencontainers.image.source"],
        "https://example.org/hello"
    );
    let job = |id: &str| plan.jobs.iter().find(|j| j.id == id).unwrap();
    assert_eq!(
        job("image-busybox-linux-arm64").needs,
        ["build-linux-arm64"]
    );
    assert_eq!(
        job("index-busybox").needs,
        ["image-busybox-linux-amd64", "image-busybox-linux-arm64"]
    );
    // Without --push or --oci-dir the manifest waits for every index.
    assert_eq!(
        job("manifest").needs,
        ["checksums", "index-busybox", "index-scratch"]
    );
}

#[test]
fn push_and_oci_archives_add_edges() {
    let loaded = config::parse(Path::new("matrix.toml"), with("", IMAGES)).unwrap();
    let mut req = request(&[]);
    req.push = true;
    req.oci_archives = true;
    let plan = build(&loaded, &req).unwrap();
    let job = |id: &str| plan.jobs.iter().find(|j| j.id == id).unwrap();
    assert_eq!(job("push-scratch").needs, ["index-scratch", "checksums"]);
    assert!(
        job("checksums")
            .needs
            .contains(&"index-scratch".to_string())
    );
    assert_eq!(
        job("manifest").needs,
        ["checksums", "push-busybox", "push-scratch"]
    );
}

#[test]
fn snapshots_get_no_floating_tags() {
    let loaded = config::parse(Path::new("matrix.toml"), with("", IMAGES)).unwrap();
    let mut req = request(&[]);
    req.version.is_snapshot = true;
    req.version.version = "1.2.4-SNAPSHOT-abc1234".into();
    let plan = build(&loaded, &req).unwrap();
    let tags = &plan.images.unwrap().variants[0].tags;
    assert_eq!(
        tags,
        &["1.2.4-SNAPSHOT-abc1234-busybox", "1.2.4-SNAPSHOT-abc1234"]
    );
}

#[test]
fn image_platforms_need_exactly_one_binary() {
    let missing = with(
        "",
        &IMAGES.replace("\"linux/arm64\"]", "\"linux/arm64\", \"linux/s390x\"]"),
    );
    let e = config_error(&missing);
    assert!(
        e.message
            .contains("no binary target is built for the image platform linux/s390x"),
        "{}",
        e.message
    );
    // With --target the unselected platform is left out with a warning.
    let plan = plan_of(&with("", IMAGES), &["linux/amd64"]).unwrap();
    assert_eq!(plan.images.as_ref().unwrap().variants[0].platforms.len(), 1);
    assert!(
        plan.warnings.iter().any(|w| w.contains("left out")),
        "{:?}",
        plan.warnings
    );

    let two = with("", IMAGES).replace(
        "arch = [\"amd64\", \"arm64\"]",
        "arch = [\"amd64\", \"arm64\"]\nlibc = [\"gnu\", \"musl\"]",
    );
    let e = config_error(&two);
    assert!(
        e.message
            .contains("matches the binary targets linux/amd64/gnu, linux/amd64/musl"),
        "{}",
        e.message
    );
    assert!(e.help.as_deref().unwrap_or("").contains("binary-from"));
    let picked = two.replace(
        "[images.matrix]",
        "binary-from = { libc = \"musl\" }\n[images.matrix]",
    );
    let plan = plan_of(&picked, &[]).unwrap();
    let p = &plan.images.unwrap().variants[0].platforms[0];
    assert_eq!(plan.targets[p.target].id, "linux/amd64/musl");
}

#[test]
fn image_config_errors() {
    let no_platform = with(
        "",
        &IMAGES.replace("platform = [\"linux/amd64\", \"linux/arm64\"]", ""),
    );
    assert!(
        config_error(&no_platform)
            .message
            .contains("needs a `platform` axis")
    );
    let bad = with("", &IMAGES.replace("\"linux/arm64\"]", "\"arm64\"]"));
    assert!(
        config_error(&bad)
            .message
            .contains("\"arm64\" is not a platform")
    );
    let bad_tag = with(
        "",
        &IMAGES.replace(
            "floating-tags = [\"latest-{{ distro }}\"]",
            "tags = [\"{{ distro }} x\"]",
        ),
    );
    assert!(
        config_error(&bad_tag)
            .message
            .contains("is not a valid image tag")
    );
}
