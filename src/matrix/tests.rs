//! Table tests for [`super::expand`]: GitHub's documented examples, our
//! AnyOf extension (the Glide table) and every validation error.

use super::*;

type Pairs<'a> = &'a [(&'a str, &'a str)];

fn spec(axes: &[(&str, &[&str])]) -> Spec {
    Spec {
        axes: axes
            .iter()
            .map(|(k, vs)| (k.to_string(), vs.iter().map(|v| v.to_string()).collect()))
            .collect(),
        ..Spec::default()
    }
}

fn pairs(p: Pairs) -> IndexMap<String, String> {
    p.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn one(v: &str) -> Pattern {
    Pattern::One(v.to_owned())
}

fn any(vs: &[&str]) -> Pattern {
    Pattern::AnyOf(vs.iter().map(|v| v.to_string()).collect())
}

impl Spec {
    fn inc(mut self, p: Pairs) -> Self {
        self.include.push(pairs(p));
        self
    }
    fn exc(mut self, p: &[(&str, Pattern)]) -> Self {
        self.exclude
            .push(p.iter().map(|(k, v)| (k.to_string(), v.clone())).collect());
        self
    }
}

/// Order-sensitive view: both the combination order and key order matter.
fn flat(result: &[Combination]) -> Vec<Vec<(String, String)>> {
    result
        .iter()
        .map(|c| c.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .collect()
}

fn owned(expected: &[Pairs]) -> Vec<Vec<(String, String)>> {
    expected
        .iter()
        .map(|c| {
            c.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

fn glide() -> Spec {
    spec(&[
        ("os", &["darwin", "linux", "freebsd", "openbsd", "windows"]),
        (
            "arch",
            &["amd64", "arm64", "386", "ppc64le", "s390x", "riscv64"],
        ),
    ])
    .exc(&[
        ("os", one("darwin")),
        ("arch", any(&["386", "ppc64le", "s390x", "riscv64"])),
    ])
    .exc(&[
        ("os", one("freebsd")),
        ("arch", any(&["ppc64le", "s390x", "riscv64"])),
    ])
    .exc(&[
        ("os", one("openbsd")),
        ("arch", any(&["ppc64le", "s390x", "riscv64"])),
    ])
    .exc(&[
        ("os", one("windows")),
        ("arch", any(&["arm64", "ppc64le", "s390x", "riscv64"])),
    ])
}

#[test]
fn expands_like_github() {
    let cases: Vec<(&str, Spec, Vec<Pairs>)> = vec![
        (
            "product, first axis outermost",
            spec(&[("fruit", &["apple", "pear"]), ("animal", &["cat", "dog"])]),
            vec![
                &[("fruit", "apple"), ("animal", "cat")],
                &[("fruit", "apple"), ("animal", "dog")],
                &[("fruit", "pear"), ("animal", "cat")],
                &[("fruit", "pear"), ("animal", "dog")],
            ],
        ),
        (
            // docs: "Example: Expanding configurations"
            "github include example",
            spec(&[("fruit", &["apple", "pear"]), ("animal", &["cat", "dog"])])
                .inc(&[("color", "green")])
                .inc(&[("color", "pink"), ("animal", "cat")])
                .inc(&[("fruit", "apple"), ("shape", "circle")])
                .inc(&[("fruit", "banana")])
                .inc(&[("fruit", "banana"), ("animal", "cat")]),
            vec![
                &[
                    ("fruit", "apple"),
                    ("animal", "cat"),
                    ("color", "pink"),
                    ("shape", "circle"),
                ],
                &[
                    ("fruit", "apple"),
                    ("animal", "dog"),
                    ("color", "green"),
                    ("shape", "circle"),
                ],
                &[("fruit", "pear"), ("animal", "cat"), ("color", "pink")],
                &[("fruit", "pear"), ("animal", "dog"), ("color", "green")],
                &[("fruit", "banana")],
                &[("fruit", "banana"), ("animal", "cat")],
            ],
        ),
        (
            // docs: "Example: Adding configurations"
            "github include adds to one combination",
            spec(&[
                ("os", &["windows-latest", "ubuntu-latest"]),
                ("node", &["14", "16"]),
            ])
            .inc(&[("os", "windows-latest"), ("node", "16"), ("npm", "6")]),
            vec![
                &[("os", "windows-latest"), ("node", "14")],
                &[("os", "windows-latest"), ("node", "16"), ("npm", "6")],
                &[("os", "ubuntu-latest"), ("node", "14")],
                &[("os", "ubuntu-latest"), ("node", "16")],
            ],
        ),
        (
            // docs: "Excluding matrix configurations"
            "github exclude example",
            spec(&[
                ("os", &["macos-latest", "windows-latest"]),
                ("version", &["12", "14", "16"]),
                ("environment", &["staging", "production"]),
            ])
            .exc(&[
                ("os", one("macos-latest")),
                ("version", one("12")),
                ("environment", one("production")),
            ])
            .exc(&[("os", one("windows-latest")), ("version", one("16"))]),
            vec![
                &[
                    ("os", "macos-latest"),
                    ("version", "12"),
                    ("environment", "staging"),
                ],
                &[
                    ("os", "macos-latest"),
                    ("version", "14"),
                    ("environment", "staging"),
                ],
                &[
                    ("os", "macos-latest"),
                    ("version", "14"),
                    ("environment", "production"),
                ],
                &[
                    ("os", "macos-latest"),
                    ("version", "16"),
                    ("environment", "staging"),
                ],
                &[
                    ("os", "macos-latest"),
                    ("version", "16"),
                    ("environment", "production"),
                ],
                &[
                    ("os", "windows-latest"),
                    ("version", "12"),
                    ("environment", "staging"),
                ],
                &[
                    ("os", "windows-latest"),
                    ("version", "12"),
                    ("environment", "production"),
                ],
                &[
                    ("os", "windows-latest"),
                    ("version", "14"),
                    ("environment", "staging"),
                ],
                &[
                    ("os", "windows-latest"),
                    ("version", "14"),
                    ("environment", "production"),
                ],
            ],
        ),
        (
            "include-only matrix, keys in first-seen order",
            Spec::default()
                .inc(&[("os", "linux"), ("arch", "amd64")])
                .inc(&[("arch", "arm"), ("os", "linux"), ("goarm", "7")]),
            vec![
                &[("os", "linux"), ("arch", "amd64")],
                &[("os", "linux"), ("arch", "arm"), ("goarm", "7")],
            ],
        ),
        (
            "glide table (AnyOf excludes)",
            glide(),
            vec![
                &[("os", "darwin"), ("arch", "amd64")],
                &[("os", "darwin"), ("arch", "arm64")],
                &[("os", "linux"), ("arch", "amd64")],
                &[("os", "linux"), ("arch", "arm64")],
                &[("os", "linux"), ("arch", "386")],
                &[("os", "linux"), ("arch", "ppc64le")],
                &[("os", "linux"), ("arch", "s390x")],
                &[("os", "linux"), ("arch", "riscv64")],
                &[("os", "freebsd"), ("arch", "amd64")],
                &[("os", "freebsd"), ("arch", "arm64")],
                &[("os", "freebsd"), ("arch", "386")],
                &[("os", "openbsd"), ("arch", "amd64")],
                &[("os", "openbsd"), ("arch", "arm64")],
                &[("os", "openbsd"), ("arch", "386")],
                &[("os", "windows"), ("arch", "amd64")],
                &[("os", "windows"), ("arch", "386")],
            ],
        ),
        (
            // exclude runs first, so include can bring an excluded
            // combination back (as a new one, at the end)
            "include re-adds an excluded combination",
            spec(&[("os", &["linux", "darwin"]), ("arch", &["amd64", "386"])])
                .exc(&[("os", one("darwin")), ("arch", one("386"))])
                .inc(&[("os", "darwin"), ("arch", "386"), ("cgo", "0")]),
            vec![
                &[("os", "linux"), ("arch", "amd64")],
                &[("os", "linux"), ("arch", "386")],
                &[("os", "darwin"), ("arch", "amd64")],
                &[("os", "darwin"), ("arch", "386"), ("cgo", "0")],
            ],
        ),
        (
            "everything excluded but an include remains",
            spec(&[("os", &["linux"])])
                .exc(&[("os", one("linux"))])
                .inc(&[("os", "linux"), ("libc", "musl")]),
            vec![&[("os", "linux"), ("libc", "musl")]],
        ),
        (
            "extra keys use one global order, not insertion order",
            spec(&[("os", &["linux", "darwin"])])
                .inc(&[("os", "linux"), ("x", "1")])
                .inc(&[("os", "darwin"), ("y", "2")])
                .inc(&[("os", "darwin"), ("x", "3")]),
            vec![
                &[("os", "linux"), ("x", "1")],
                &[("os", "darwin"), ("x", "3"), ("y", "2")],
            ],
        ),
        (
            "new combinations list axis keys first",
            spec(&[("os", &["linux"]), ("arch", &["amd64"])]).inc(&[
                ("goarm", "7"),
                ("arch", "arm"),
                ("os", "linux"),
            ]),
            vec![
                &[("os", "linux"), ("arch", "amd64")],
                &[("os", "linux"), ("arch", "arm"), ("goarm", "7")],
            ],
        ),
        // The three examples in README.md ("Axes, `exclude` and `include`").
        (
            "readme: exclude one combination",
            spec(&[
                ("os", &["linux", "darwin", "windows"]),
                ("arch", &["amd64", "arm64"]),
            ])
            .exc(&[("os", one("windows")), ("arch", one("arm64"))]),
            vec![
                &[("os", "linux"), ("arch", "amd64")],
                &[("os", "linux"), ("arch", "arm64")],
                &[("os", "darwin"), ("arch", "amd64")],
                &[("os", "darwin"), ("arch", "arm64")],
                &[("os", "windows"), ("arch", "amd64")],
            ],
        ),
        (
            "readme: exclude with a list",
            spec(&[
                ("os", &["linux", "freebsd", "windows"]),
                ("arch", &["amd64", "arm64", "386", "riscv64"]),
            ])
            .exc(&[("os", one("freebsd")), ("arch", one("riscv64"))])
            .exc(&[("os", one("windows")), ("arch", any(&["arm64", "riscv64"]))]),
            vec![
                &[("os", "linux"), ("arch", "amd64")],
                &[("os", "linux"), ("arch", "arm64")],
                &[("os", "linux"), ("arch", "386")],
                &[("os", "linux"), ("arch", "riscv64")],
                &[("os", "freebsd"), ("arch", "amd64")],
                &[("os", "freebsd"), ("arch", "arm64")],
                &[("os", "freebsd"), ("arch", "386")],
                &[("os", "windows"), ("arch", "amd64")],
                &[("os", "windows"), ("arch", "386")],
            ],
        ),
        (
            "readme: include",
            spec(&[("os", &["linux", "darwin"]), ("arch", &["amd64", "arm64"])])
                .exc(&[("os", one("darwin")), ("arch", one("amd64"))])
                .inc(&[("os", "linux"), ("cgo", "0")])
                .inc(&[("os", "linux"), ("arch", "arm64"), ("cgo", "1")])
                .inc(&[("os", "linux"), ("arch", "arm"), ("goarm", "7")])
                .inc(&[("os", "darwin"), ("arch", "amd64")]),
            vec![
                &[("os", "linux"), ("arch", "amd64"), ("cgo", "0")],
                &[("os", "linux"), ("arch", "arm64"), ("cgo", "1")],
                &[("os", "darwin"), ("arch", "arm64")],
                &[("os", "linux"), ("arch", "arm"), ("goarm", "7")],
                &[("os", "darwin"), ("arch", "amd64")],
            ],
        ),
    ];
    for (name, spec, expected) in cases {
        let got = expand(&spec, u64::MAX).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(flat(&got), owned(&expected), "{name}");
    }
}

#[test]
fn glide_table_has_sixteen_targets() {
    assert_eq!(expand(&glide(), u64::MAX).map(|r| r.len()), Ok(16));
}

#[test]
fn rejects_bad_specs() {
    let s = |v: &str| v.to_owned();
    let cases: Vec<(&str, Spec, MatrixError)> = vec![
        (
            "nothing declared",
            Spec::default(),
            MatrixError::Empty {
                reason: EmptyReason::NothingDeclared,
            },
        ),
        (
            "nothing declared beats a bad exclude",
            Spec::default().exc(&[("os", one("linux"))]),
            MatrixError::Empty {
                reason: EmptyReason::NothingDeclared,
            },
        ),
        (
            "all excluded",
            spec(&[("os", &["linux", "darwin"]), ("arch", &["amd64"])])
                .exc(&[("arch", one("amd64"))]),
            MatrixError::Empty {
                reason: EmptyReason::AllExcluded,
            },
        ),
        (
            "empty axis",
            spec(&[("os", &["linux"]), ("arch", &[])]),
            MatrixError::EmptyAxis { axis: s("arch") },
        ),
        (
            "duplicate value",
            spec(&[("os", &["linux", "darwin", "linux"])]),
            MatrixError::DuplicateValue {
                axis: s("os"),
                value: s("linux"),
            },
        ),
        (
            "exclude unknown key",
            spec(&[("os", &["linux"]), ("arch", &["amd64", "arm64"])])
                .exc(&[("arch", one("arm64"))])
                .exc(&[("os", one("linux")), ("libc", one("musl"))]),
            MatrixError::ExcludeUnknownKey {
                index: 1,
                key: s("libc"),
                axes: vec![s("os"), s("arch")],
            },
        ),
        (
            "exclude unknown value in AnyOf",
            spec(&[("os", &["linux"]), ("arch", &["amd64", "arm64"])])
                .exc(&[("arch", any(&["arm64", "amd46"]))]),
            MatrixError::ExcludeUnknownValue {
                index: 0,
                key: s("arch"),
                value: s("amd46"),
                allowed: vec![s("amd64"), s("arm64")],
            },
        ),
        (
            "exclude unknown value",
            spec(&[("os", &["linux", "darwin"])]).exc(&[("os", one("Linux"))]),
            MatrixError::ExcludeUnknownValue {
                index: 0,
                key: s("os"),
                value: s("Linux"),
                allowed: vec![s("linux"), s("darwin")],
            },
        ),
        (
            "empty exclude entry",
            spec(&[("os", &["linux", "darwin"])]).exc(&[]),
            MatrixError::EmptyExclude { index: 0 },
        ),
        (
            "empty AnyOf",
            spec(&[("os", &["linux", "darwin"])]).exc(&[("os", any(&[]))]),
            MatrixError::EmptyPattern {
                index: 0,
                key: s("os"),
            },
        ),
        (
            "empty include entry",
            spec(&[("os", &["linux"])]).inc(&[("os", "linux")]).inc(&[]),
            MatrixError::EmptyInclude { index: 1 },
        ),
        (
            "duplicate include-only entries",
            Spec::default()
                .inc(&[("os", "linux")])
                .inc(&[("os", "linux")]),
            MatrixError::DuplicateCombination {
                first: 0,
                second: 1,
                combination: s("{os=linux}"),
            },
        ),
        (
            "duplicate appended combinations",
            spec(&[("os", &["linux"])])
                .inc(&[("os", "darwin"), ("cgo", "1")])
                .inc(&[("cgo", "1"), ("os", "darwin")]),
            MatrixError::DuplicateCombination {
                first: 1,
                second: 2,
                combination: s("{os=darwin, cgo=1}"),
            },
        ),
    ];
    for (name, spec, expected) in cases {
        assert_eq!(expand(&spec, u64::MAX), Err(expected), "{name}");
    }
}

#[test]
fn errors_render_for_people() {
    let err = expand(
        &spec(&[("arch", &["amd64", "arm64"])]).exc(&[("arch", one("amd46"))]),
        u64::MAX,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "exclude entry #1 matches `arch = \"amd46\"`, but axis `arch` has no such value"
    );
    let help = miette::Diagnostic::help(&err).map(|h| h.to_string());
    assert_eq!(
        help.as_deref(),
        Some("this is usually a typo; `arch` allows: `amd64`, `arm64`")
    );

    let err = expand(&Spec::default(), u64::MAX).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the matrix is empty: it declares no axes and no include entries"
    );
}

#[test]
fn pattern_matching() {
    assert!(one("a").matches("a"));
    assert!(!one("a").matches("b"));
    assert!(any(&["a", "b"]).matches("b"));
    assert!(!any(&["a", "b"]).matches("c"));
    assert!(!any(&[]).matches("a"));
}
