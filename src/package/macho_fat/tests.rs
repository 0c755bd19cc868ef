use super::*;

/// A minimal little-endian 64-bit Mach-O header followed by `body`.
fn thin(cputype: i32, cpusubtype: i32, body: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&MH_MAGIC_64.to_le_bytes());
    b.extend_from_slice(&cputype.to_le_bytes());
    b.extend_from_slice(&cpusubtype.to_le_bytes());
    b.extend_from_slice(&[0; 20]);
    b.extend_from_slice(body);
    b
}

fn be(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap())
}

#[test]
fn layout_is_lipos() {
    let x = Thin::new("x", thin(CPU_TYPE_X86_64, 3, b"intel")).unwrap();
    let a = Thin::new("a", thin(CPU_TYPE_ARM64, 0, b"arm")).unwrap();
    let fat = write_fat(&[a.clone(), x.clone()]).unwrap();
    assert_eq!(fat, write_fat(&[x.clone(), a.clone()]).unwrap());
    assert_eq!(be(&fat, 0), 0xcafe_babe);
    assert_eq!(be(&fat, 4), 2);
    // x86_64 first at 2^12, arm64 next at the following 2^14 boundary.
    assert_eq!(
        (
            be(&fat, 8),
            be(&fat, 12),
            be(&fat, 16),
            be(&fat, 20),
            be(&fat, 24)
        ),
        (CPU_TYPE_X86_64 as u32, 3, 4096, x.bytes.len() as u32, 12)
    );
    assert_eq!(
        (
            be(&fat, 28),
            be(&fat, 32),
            be(&fat, 36),
            be(&fat, 40),
            be(&fat, 44)
        ),
        (CPU_TYPE_ARM64 as u32, 0, 16384, a.bytes.len() as u32, 14)
    );
    assert!(fat[48..4096].iter().all(|b| *b == 0));
    assert_eq!(&fat[4096..4096 + x.bytes.len()], &x.bytes[..]);
    assert_eq!(&fat[16384..], &a.bytes[..]);
}

#[test]
fn subtype_capability_bits_are_kept() {
    let x = Thin::new("x", thin(CPU_TYPE_X86_64, 0x8000_0003u32 as i32, b"")).unwrap();
    let a = Thin::new("a", thin(CPU_TYPE_ARM64, 0, b"")).unwrap();
    let fat = write_fat(&[x, a]).unwrap();
    assert_eq!(be(&fat, 12), 0x8000_0003);
}

#[test]
fn big_endian_headers_are_read() {
    let mut b = Vec::new();
    b.extend_from_slice(&MH_MAGIC.to_be_bytes());
    b.extend_from_slice(&CPU_TYPE_POWERPC.to_be_bytes());
    b.extend_from_slice(&0i32.to_be_bytes());
    let t = Thin::new("ppc", b).unwrap();
    assert_eq!((t.cputype, t.align()), (CPU_TYPE_POWERPC, 12));
}

#[test]
fn refuses_what_is_not_thin_macho() {
    let err = Thin::new("elf", b"\x7fELF\x02\x01\x01\0\0\0\0\0".to_vec()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "`elf` is not a thin Mach-O file (magic 0x7f454c46)"
    );
    let err = Thin::new("short", b"\xcf\xfa".to_vec()).unwrap_err();
    assert!(
        err.to_string()
            .contains("2 bytes, shorter than a Mach-O header"),
        "{err}"
    );
    let x = Thin::new("x", thin(CPU_TYPE_X86_64, 3, b"")).unwrap();
    let a = Thin::new("a", thin(CPU_TYPE_ARM64, 0, b"")).unwrap();
    let fat = write_fat(&[x, a]).unwrap();
    let err = Thin::new("fat", fat).unwrap_err();
    assert!(
        err.to_string().contains("already a universal binary"),
        "{err}"
    );
}

#[test]
fn refuses_same_arch_and_single_slices() {
    let x1 = Thin::new("one", thin(CPU_TYPE_X86_64, 3, b"1")).unwrap();
    let x2 = Thin::new("two", thin(CPU_TYPE_X86_64, 8, b"2")).unwrap();
    let err = write_fat(&[x1.clone(), x2]).unwrap_err();
    assert_eq!(err.to_string(), "`one` and `two` are both x86_64");
    let err = write_fat(&[x1]).unwrap_err();
    assert!(
        err.to_string().contains("at least two slices, got 1"),
        "{err}"
    );
}

#[test]
fn reads_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big");
    std::fs::write(&path, thin(CPU_TYPE_ARM64, 0, &[0; 100])).unwrap();
    let err = read_thin(&path, 64).unwrap_err();
    assert!(matches!(err, FatError::TooLarge { cap: 64, .. }), "{err}");
    let t = read_thin(&path, 1 << 20).unwrap();
    assert_eq!(t.cputype, CPU_TYPE_ARM64);
}
