//! Unit tests of the deb channel and of what it shares with rpm.

use super::common::{
    Dep, Rel, deb_arch, installed_path, package_version, parse_dep, project_file, rpm_arch,
};
use crate::target::PLATFORMS;

#[test]
fn versions_map_to_package_rules() {
    assert_eq!(package_version("1.2.3").unwrap(), "1.2.3");
    assert_eq!(package_version("1.2.3-rc.1").unwrap(), "1.2.3~rc.1");
    assert_eq!(package_version("1.2.3-rc.1+build.5").unwrap(), "1.2.3~rc.1");
    assert_eq!(package_version("1.2.3+meta").unwrap(), "1.2.3");
    assert_eq!(
        package_version("0.0.1-SNAPSHOT-abc1234").unwrap(),
        "0.0.1~SNAPSHOT.abc1234"
    );
    // Calendar versions stay as they are.
    assert_eq!(package_version("20454.2").unwrap(), "20454.2");
    assert!(package_version("v1.2.3").is_err());
}

#[test]
fn architectures_of_both_formats() {
    let name = |p: &crate::target::Platform| p.name();
    let mut deb: Vec<(String, &str, &str)> = PLATFORMS
        .iter()
        .filter_map(|p| Some((name(p), deb_arch(p)?, rpm_arch(p)?)))
        .collect();
    deb.sort();
    assert_eq!(
        deb,
        [
            ("linux/386".to_string(), "i386", "i686"),
            ("linux/amd64".to_string(), "amd64", "x86_64"),
            ("linux/arm/v7".to_string(), "armhf", "armv7hl"),
            ("linux/arm64".to_string(), "arm64", "aarch64"),
            ("linux/ppc64le".to_string(), "ppc64el", "ppc64le"),
            ("linux/riscv64".to_string(), "riscv64", "riscv64"),
            ("linux/s390x".to_string(), "s390x", "s390x"),
        ]
    );
    // Every platform with a deb architecture has an rpm one.
    assert!(
        PLATFORMS
            .iter()
            .all(|p| deb_arch(p).is_some() == rpm_arch(p).is_some())
    );
}

#[test]
fn dependencies_in_debian_syntax() {
    let dep = parse_dep("libc6 (>= 2.36) | busybox", true, false).unwrap();
    assert_eq!(
        dep,
        Dep(vec![
            Rel {
                name: "libc6".into(),
                version: Some((">=".into(), "2.36".into()))
            },
            Rel {
                name: "busybox".into(),
                version: None
            },
        ])
    );
    assert_eq!(dep.debian(), "libc6 (>= 2.36) | busybox");
    for bad in [
        "Libc6",
        "libc6 >= 2",
        "libc6 (=> 2)",
        "libc6 (>= )",
        "libc6 (>= x1)",
        "a",
        "",
        "libc6 (>= 2",
    ] {
        assert!(parse_dep(bad, true, false).is_err(), "{bad}");
    }
    assert!(
        parse_dep("a1 | b1", false, false).is_err(),
        "no alternatives"
    );
    assert!(
        parse_dep("hello-api (>= 1)", false, true).is_err(),
        "provides: = only"
    );
    assert!(parse_dep("hello-api (= 1)", false, true).is_ok());
}

#[test]
fn installed_paths_are_absolute_and_clean() {
    assert!(installed_path("/usr/share/man/man1/hello.1").is_ok());
    for bad in [
        "usr/bin/x",
        "/",
        "/usr//x",
        "/usr/../etc/x",
        "/usr/./x",
        "/usr/x/",
        "/usr/a b",
        "/usr/a\nb",
    ] {
        assert!(installed_path(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn project_files_stay_inside_and_are_never_symlinks() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir(root.join("man")).unwrap();
    std::fs::write(root.join("man/hello.1"), "x").unwrap();
    std::fs::write(root.join("outside"), "x").unwrap();
    std::os::unix::fs::symlink(root.join("outside"), root.join("man/link")).unwrap();
    std::os::unix::fs::symlink(root.join("man"), root.join("mandir")).unwrap();
    assert!(project_file(root, "man/hello.1").is_ok());
    assert!(project_file(root, "./man/hello.1").is_ok());
    let err = |rel: &str| project_file(root, rel).unwrap_err();
    assert!(err("../x").contains("outside the project"));
    assert!(err("/etc/passwd").contains("outside the project"));
    assert!(err("man/link").contains("symlink"));
    assert!(err("mandir/hello.1").contains("symlink"));
    assert!(err("man").contains("not a regular file"));
    assert!(err("man/missing").contains("No such file"));
}

#[test]
fn long_descriptions_wrap_and_keep_paragraphs() {
    let text = format!("{}\n\n\nSecond.\n", "word ".repeat(30));
    let lines = super::build::long_lines(&text);
    assert!(lines.iter().all(|l| l.chars().count() <= 79), "{lines:?}");
    assert_eq!(lines.iter().filter(|l| l.is_empty()).count(), 1);
    assert_eq!(lines.last().unwrap(), "Second.");
}

#[test]
fn apt_values_and_their_fallbacks() {
    use super::{AptConfig, apt_value_problem};
    for good in ["stable", "main", "bookworm-backports", "1.x", "a_b"] {
        assert_eq!(apt_value_problem("suite", good), None, "{good}");
        assert_eq!(apt_value_problem("component", good), None, "{good}");
    }
    for bad in ["", "-x", ".x", "a/b", "..", "a b", &"x".repeat(65)] {
        assert!(apt_value_problem("suite", bad).is_some(), "{bad:?}");
        assert!(apt_value_problem("component", bad).is_some(), "{bad:?}");
    }
    assert_eq!(apt_value_problem("origin", "Hello Org / 1"), None);
    assert!(apt_value_problem("label", "a\nb").is_some());
    assert!(apt_value_problem("origin", &"x".repeat(257)).is_some());
    let flags = AptConfig {
        suite: Some("edge".into()),
        ..AptConfig::default()
    };
    let table = AptConfig {
        suite: Some("stable".into()),
        component: Some("extra".into()),
        origin: None,
        label: Some("bad\n".into()),
    };
    let both = flags.or(&table);
    assert_eq!(both.suite.as_deref(), Some("edge"));
    assert_eq!(both.component.as_deref(), Some("extra"));
    assert_eq!(both.origin, None);
    assert_eq!(
        both.problem(),
        Some(("label", "bad\n", "one line of at most 256 characters"))
    );
    assert_eq!(flags.problem(), None);
}

#[test]
fn deb_and_rpm_share_their_keys_but_their_own() {
    use crate::packager::registry::fields;
    let deb = fields::<super::DebConfig>();
    let rpm = fields::<crate::packager::rpm::RpmConfig>();
    let shared = fields::<super::LinuxConfig>();
    assert_eq!(deb[..deb.len() - 1], *shared);
    assert_eq!(rpm[..rpm.len() - 1], *shared);
    assert_eq!((deb.last(), rpm.last()), (Some(&"apt"), Some(&"release")));
    assert!(shared.contains(&"config-files") && shared.len() == 15);
}

/// `package_version` let `_` through (issue 14's finding 7), which dpkg
/// refuses ("invalid character in version number"); every version it
/// gives is one dpkg's rule, [`common::is_dpkg_version`], accepts.
#[test]
fn package_versions_are_what_dpkg_accepts() {
    assert!(package_version("1.2.3_4").is_err());
    for v in ["1.2.3", "1.2.3-rc.1", "2024.05.01", "1.0.0-alpha-2+build.7"] {
        let mapped = package_version(v).unwrap();
        assert!(super::common::is_dpkg_version(&mapped), "{v} -> {mapped}");
    }
}

/// dpkg's version and architecture rules, as `dpkg --validate-version`
/// and dpkg-architecture take them.
#[test]
fn dpkg_version_and_architecture_rules() {
    for ok in [
        "1",
        "1.2.3",
        "1:2.3-4",
        "1.2.3~rc.1-1+b2",
        "0.9-1-2",
        "2.0+dfsg",
    ] {
        assert!(super::common::is_dpkg_version(ok), "{ok}");
    }
    for bad in [
        "", "a1", "1.2_3", "1.2/3", "1:", ":1", "x:1", "1-", "1 2", "1\n2", "1:2:3", "1-2_3",
        "../1",
    ] {
        assert!(!super::common::is_dpkg_version(bad), "{bad:?}");
    }
    for ok in ["amd64", "all", "any", "musl-linux-arm64", "ppc64el"] {
        assert!(super::common::is_dpkg_arch(ok), "{ok}");
    }
    for bad in ["", "AMD64", "../x", "a/b", "-x", "x_y", "a b"] {
        assert!(!super::common::is_dpkg_arch(bad), "{bad:?}");
    }
}
