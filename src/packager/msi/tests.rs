use super::*;

#[test]
fn versions_map_to_msi_product_versions() {
    assert_eq!(msi_version("1.2.3").unwrap(), "1.2.3");
    assert_eq!(msi_version("0.0.2-rc.1").unwrap(), "0.0.2");
    assert_eq!(msi_version("0.0.1-SNAPSHOT-abc1234").unwrap(), "0.0.1");
    assert_eq!(
        msi_version("255.255.65535+build.7").unwrap(),
        "255.255.65535"
    );
    assert!(
        msi_version("256.0.0")
            .unwrap_err()
            .contains("major 256 is above 255")
    );
    assert!(msi_version("1.256.0").unwrap_err().contains("minor 256"));
    assert!(msi_version("2026.1.1").is_err());
    assert!(
        msi_version("1.2.65536")
            .unwrap_err()
            .contains("patch 65536")
    );
    assert!(msi_version("1.2").is_err());
    assert!(msi_version("1.x.3").is_err());
}

#[test]
fn derived_uuids_are_stable_version_5_guids() {
    let a = derived_uuid(&["matrix msi upgrade", "hello", "x64"]);
    assert_eq!(a, derived_uuid(&["matrix msi upgrade", "hello", "x64"]));
    assert_ne!(a, derived_uuid(&["matrix msi upgrade", "hello", "x86"]));
    // Parts are separated: ("ab", "c") is not ("a", "bc").
    assert_ne!(derived_uuid(&["ab", "c"]), derived_uuid(&["a", "bc"]));
    assert!(is_guid(&a), "{a}");
    assert_eq!(&a[14..15], "5");
    assert!(matches!(&a[19..20], "8" | "9" | "A" | "B"));
    assert!(is_guid("{0123abcd-0123-4567-89ab-0123456789AB}"));
    assert!(!is_guid("0123abcd-0123-4567-89ab-0123456789A"));
    assert!(!is_guid("0123abcd_0123-4567-89ab-0123456789AB"));
}

#[test]
fn wxs_escapes_what_it_embeds() {
    let text = render_wxs(&Wxs {
        name: "hello",
        manufacturer: "A & B \"<co>\"",
        description: "greets",
        version: "1.2.3",
        arch: "x86",
        product_code: "P",
        upgrade_code: "U",
        component: "C",
        binary: "hello.exe",
        source: "/tmp/x",
    });
    assert!(text.contains("Manufacturer=\"A &amp; B &quot;&lt;co&gt;&quot;\""));
    assert!(text.contains("ProgramFilesFolder"));
    assert!(text.contains("Win64=\"no\""));
    assert!(text.contains("<MajorUpgrade AllowSameVersionUpgrades=\"yes\" "));
}

/// The ProductCode property of an .msi, read back with msitools.
fn product_code(msi: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.msi");
    std::fs::write(&path, msi).unwrap();
    let out = std::process::Command::new("msiinfo")
        .args(["export", path.to_str().unwrap(), "Property"])
        .output()
        .unwrap();
    assert!(out.status.success(), "msiinfo failed");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("ProductCode\t"))
        .unwrap()
        .to_string()
}

/// The ProductVersion drops the pre-release, so the ProductCode comes from
/// the full release version: 1.2.3-rc.1 and 1.2.3 are two products (with
/// one code Windows Installer refused the final over the rc, error 1638;
/// issue 14's finding 3), and `AllowSameVersionUpgrades` lets the final
/// replace the rc. Built with the real wixl and read back with msiinfo.
#[test]
fn a_pre_release_and_its_release_have_other_product_codes() {
    for tool in ["wixl", "msibuild", "msiinfo"] {
        let found = crate::process::find_program(tool)
            .ok_or_else(|| format!("{tool} is missing (apt-get install wixl msitools)"));
        if crate::packager::snap::tests::require(found).is_none() {
            return;
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let binary_file = dir.path().join("hello.exe");
    let build = |version: &str, payload: &[u8]| {
        std::fs::write(&binary_file, payload).unwrap();
        let release = crate::packager::input::Release {
            name: "hello".into(),
            description: "greets".into(),
            homepage: String::new(),
            license: "MIT".into(),
            version: version.into(),
            tag: format!("v{version}"),
            prerelease: version.split_once('-').map_or("", |(_, p)| p).into(),
            commit: "abc1234".into(),
            timestamp: 1_700_000_000,
            is_snapshot: false,
        };
        let package = crate::packager::input::Package {
            target: "windows/amd64".into(),
            os: "windows".into(),
            arch: "amd64".into(),
            variant: None,
            platform: crate::target::platform("windows", "amd64", None).unwrap(),
            file_name: "hello.zip".into(),
            path: dir.path().join("hello.zip"),
            url: String::new(),
            sha256: String::new(),
            size: 0,
            format: crate::package::archive::Format::Zip,
            binary: "hello.exe".into(),
            binary_in_archive: "hello.exe".into(),
            binary_file: binary_file.clone(),
            files: Vec::new(),
        };
        let step = MsiStep {
            channel: "msi".into(),
            dir: "msi".into(),
            name: "hello".into(),
            manufacturer: "Hello Ltd".into(),
            description: "greets".into(),
            upgrade_seed: "hello".into(),
            version: msi_version(version).unwrap(),
        };
        write::build_msi(&step, &release, &package).unwrap().1
    };
    let rc = build("1.2.3-rc.1", b"MZ rc build");
    let final_ = build("1.2.3", b"MZ final build");
    assert_ne!(
        product_code(&rc),
        product_code(&final_),
        "1.2.3-rc.1 and 1.2.3 share a ProductCode and a ProductVersion"
    );
}
