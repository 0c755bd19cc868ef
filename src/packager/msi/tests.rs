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
    assert!(text.contains("<MajorUpgrade "));
}
