//! Dockerfile parsing, for the subset that release images use.
//!
//! Sits before any image build: the image job parses the Dockerfile once per
//! platform (build args such as TARGETARCH differ) and decides from the
//! result whether matrix can assemble the image itself ([`native`] builder,
//! see [`Dockerfile::native_blocker`]) or needs a container engine, and
//! whether a foreign platform needs emulation ([`Dockerfile::needs_run`]).
//! This module owns the syntax: logical lines, ARG scoping and `$VAR`
//! substitution, and the instructions matrix understands; it never touches
//! the build context.
//!
//! [`native`]: super::native

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use miette::{Diagnostic, NamedSource, SourceSpan};

mod parser;
mod words;

pub use words::expand;

/// Docker's default PATH, which a `FROM scratch` image starts with.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A parsed Dockerfile with variables substituted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dockerfile {
    pub path: PathBuf,
    /// ARGs declared before the first FROM, with their resolved values.
    pub global_args: BTreeMap<String, Option<String>>,
    /// Never empty: a Dockerfile without FROM is an error.
    pub stages: Vec<Stage>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// 1-based line of the FROM.
    pub line: usize,
    /// The base image after substitution (`scratch`, `debian:bookworm`).
    pub base: String,
    /// The `--platform=` flag after substitution.
    pub platform: Option<String>,
    /// The `AS name`.
    pub name: Option<String>,
    pub instructions: Vec<Instruction>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    /// 1-based line where the instruction starts.
    pub line: usize,
    pub op: Op,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// `ARG NAME[=default]`, with the value in effect (caller's build arg,
    /// else default, else the global ARG's value).
    Arg {
        name: String,
        value: Option<String>,
    },
    Copy(Copy),
    /// ADD is kept raw: matrix never performs it itself.
    Add(String),
    Env(Vec<(String, String)>),
    Label(Vec<(String, String)>),
    /// Exec form, or shell form turned into `["/bin/sh", "-c", ...]`.
    Entrypoint(Vec<String>),
    Cmd(Vec<String>),
    Workdir(String),
    User(String),
    /// Normalised `port/proto`, ranges expanded.
    Expose(Vec<String>),
    /// Kept raw: the shell sees it, not matrix.
    Run(String),
    Other {
        keyword: String,
        args: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Copy {
    pub sources: Vec<String>,
    pub dest: String,
    pub chmod: Option<u32>,
    pub chown: Option<String>,
    pub link: bool,
    pub from: Option<String>,
}

/// A problem in a Dockerfile, shown with the offending line. Boxed so that
/// `Result<_, DockerfileError>` stays small on the happy path.
#[derive(Debug, thiserror::Error, Diagnostic)]
#[error(transparent)]
#[diagnostic(transparent)]
pub struct DockerfileError(Box<DockerfileErrorDetail>);

#[derive(Debug, thiserror::Error, Diagnostic)]
#[error("{}:{line}: {message}", path.display())]
#[diagnostic(code(matrix::image::dockerfile))]
pub struct DockerfileErrorDetail {
    pub path: PathBuf,
    pub line: usize,
    pub message: String,
    #[source_code]
    src: NamedSource<String>,
    #[label("here")]
    span: SourceSpan,
    /// What is allowed instead.
    #[help]
    pub help: Option<String>,
}

impl std::ops::Deref for DockerfileError {
    type Target = DockerfileErrorDetail;
    fn deref(&self) -> &DockerfileErrorDetail {
        &self.0
    }
}

impl Dockerfile {
    pub fn stage_count(&self) -> usize {
        self.stages.len()
    }

    pub fn final_stage(&self) -> &Stage {
        // `parse` refuses a Dockerfile without FROM, so there is a last one.
        &self.stages[self.stages.len() - 1]
    }

    /// The final stage's base image, after substitution.
    pub fn base(&self) -> &str {
        &self.final_stage().base
    }

    /// Whether any stage runs commands: a foreign platform then needs
    /// emulation (qemu) on this machine.
    pub fn needs_run(&self) -> bool {
        self.stages
            .iter()
            .flat_map(|s| &s.instructions)
            .any(|i| matches!(i.op, Op::Run(_)))
    }

    /// The images a build of this file reads, in order, once each: every
    /// FROM that names neither `scratch` (nothing) nor an earlier stage
    /// (`FROM build`, `FROM 0`), and every `COPY --from` or `RUN
    /// --mount=...,from=` that names no stage. Stage names are matched
    /// without case, as the engines do.
    pub fn images_read(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for (i, stage) in self.stages.iter().enumerate() {
            let earlier = &self.stages[..i];
            let copied = stage.instructions.iter().flat_map(|ins| match &ins.op {
                Op::Copy(Copy {
                    from: Some(from), ..
                }) => vec![from.as_str()],
                Op::Run(raw) => mounted_from(raw),
                _ => Vec::new(),
            });
            for name in std::iter::once(stage.base.as_str()).chain(copied) {
                let image = !name.eq_ignore_ascii_case("scratch") && !names_stage(earlier, name);
                if image && !out.contains(&name) {
                    out.push(name);
                }
            }
        }
        out
    }

    /// `None` when matrix can assemble the image itself, else the first
    /// reason it cannot, like `line 3: RUN needs a container engine`.
    pub fn native_blocker(&self) -> Option<String> {
        if let Some(second) = self.stages.get(1) {
            return Some(format!(
                "line {}: a multi-stage build ({} stages) needs a container engine",
                second.line,
                self.stages.len()
            ));
        }
        let stage = self.final_stage();
        if stage.base != "scratch" {
            return Some(format!(
                "line {}: FROM {} needs a container engine (matrix assembles only FROM scratch images)",
                stage.line, stage.base
            ));
        }
        stage.instructions.iter().find_map(|i| {
            let why = match &i.op {
                Op::Run(_) => "RUN needs a container engine".to_string(),
                Op::Add(_) => "ADD needs a container engine (use COPY)".to_string(),
                Op::Copy(c) if c.from.is_some() => {
                    "COPY --from needs a container engine".to_string()
                }
                Op::Copy(c) => match &c.chown {
                    Some(owner) if parse_owner(owner).is_none() => format!(
                        "COPY --chown={owner} needs a container engine to look up names (use numeric uid:gid)"
                    ),
                    _ => return None,
                },
                Op::Other { keyword, .. } => {
                    format!("{keyword} is not supported by matrix's own image builder")
                }
                _ => return None,
            };
            Some(format!("line {}: {why}", i.line))
        })
    }
}

/// The `from=` of each `--mount` flag before a raw RUN's command (BuildKit
/// and Buildah mount a stage or an image there), unexpanded: a name with
/// `$` is asked of the engine as it is, which knows no such image.
fn mounted_from(raw: &str) -> Vec<&str> {
    raw.split_whitespace()
        .take_while(|w| w.starts_with("--"))
        .filter_map(|w| w.strip_prefix("--mount="))
        .flat_map(|m| m.split(','))
        .filter_map(|field| field.strip_prefix("from="))
        .collect()
}

/// Whether `name` names one of `stages` (by its `AS` name or its index).
fn names_stage(stages: &[Stage], name: &str) -> bool {
    stages.iter().enumerate().any(|(i, s)| {
        s.name
            .as_deref()
            .is_some_and(|n| n.eq_ignore_ascii_case(name))
            || name == i.to_string()
    })
}

/// Parses `uid[:gid]` given numerically (gid defaults to uid, as in Docker).
pub fn parse_owner(owner: &str) -> Option<(u64, u64)> {
    let (uid, gid) = owner.split_once(':').unwrap_or((owner, owner));
    Some((uid.parse().ok()?, gid.parse().ok()?))
}

/// Parses a Dockerfile. `build_args` override ARG defaults (pass TARGETOS,
/// TARGETARCH, ... here too: they are only visible where an ARG declares
/// them, as with BuildKit).
pub fn parse(
    text: &str,
    path: &Path,
    build_args: &BTreeMap<String, String>,
) -> Result<Dockerfile, DockerfileError> {
    parser::parse(text, path, build_args)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn ok(text: &str) -> Dockerfile {
        parse(text, Path::new("Dockerfile"), &BTreeMap::new()).unwrap()
    }

    fn ops(text: &str) -> Vec<(usize, Op)> {
        ok(text)
            .final_stage()
            .instructions
            .iter()
            .map(|i| (i.line, i.op.clone()))
            .collect()
    }

    fn err(text: &str) -> DockerfileError {
        parse(text, Path::new("images/Dockerfile"), &BTreeMap::new()).unwrap_err()
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_images_read_are_froms_and_copies_from_that_name_no_stage() {
        assert!(ok("FROM scratch\nCOPY a /a\n").images_read().is_empty());
        assert!(ok("FROM SCRATCH\n").images_read().is_empty());
        let text = "ARG BASE=busybox:1.36\nFROM golang:1.22 AS Build\nRUN go build\n\
            FROM build AS test\nFROM ${BASE}\nCOPY --from=BUILD /out /bin/\n\
            COPY --from=0 /x /x\nCOPY --from=alpine:3 /etc/ssl /etc/ssl\n\
            FROM golang:1.22\n";
        assert_eq!(
            ok(text).images_read(),
            ["golang:1.22", "busybox:1.36", "alpine:3"]
        );
        let text = "FROM scratch AS assets\nFROM alpine:3\n\
            RUN --network=none --mount=type=bind,from=Assets,target=/a \\\n\
            --mount=type=cache,target=/c,from=busybox:1 --mount=from=tools:2 cp /a /b\n\
            RUN echo --mount=from=not:read\n";
        assert_eq!(ok(text).images_read(), ["alpine:3", "busybox:1", "tools:2"]);
        // A stage is known only after its FROM: a later name is an image.
        let text = "FROM later AS first\nFROM scratch AS later\nCOPY --from=first / /\n";
        assert_eq!(ok(text).images_read(), ["later"]);
    }

    #[test]
    fn continuations_comments_and_lines() {
        let text = "# syntax=docker/dockerfile:1\nFROM scratch\n\n# a comment\nCOPY a \\\n  # inner comment\n\n  b /dst/\nLABEL x=1\n";
        let got = ops(text);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0, 5);
        let Op::Copy(c) = &got[0].1 else {
            panic!("{got:?}")
        };
        assert_eq!(
            (c.sources.clone(), c.dest.as_str()),
            (strings(&["a", "b"]), "/dst/")
        );
        assert_eq!(got[1], (9, Op::Label(vec![("x".into(), "1".into())])));
    }

    #[test]
    fn args_scope_defaults_and_overrides() {
        let text = "ARG BASE=scratch\nARG VERSION=1.0\nFROM ${BASE}\nARG VERSION\nARG NAME=app\nARG TARGETARCH\nLABEL v=$VERSION n=${NAME} a=${TARGETARCH:-none}\nCOPY bin/${NAME}-${TARGETARCH} /usr/bin/${NAME}\n";
        let df = parse(
            text,
            Path::new("Dockerfile"),
            &args(&[("NAME", "tool"), ("TARGETARCH", "arm64")]),
        )
        .unwrap();
        assert_eq!(df.base(), "scratch");
        assert_eq!(df.global_args["VERSION"].as_deref(), Some("1.0"));
        let ins = &df.final_stage().instructions;
        assert_eq!(
            ins[3].op,
            Op::Label(vec![
                ("v".into(), "1.0".into()),
                ("n".into(), "tool".into()),
                ("a".into(), "arm64".into()),
            ])
        );
        let Op::Copy(c) = &ins[4].op else { panic!() };
        assert_eq!(c.sources, strings(&["bin/tool-arm64"]));
        assert_eq!(c.dest, "/usr/bin/tool");
        // A global ARG is not visible in a stage unless re-declared.
        let got = ops("ARG V=1\nFROM scratch\nLABEL v=\"[$V]\"\n");
        assert_eq!(got[0].1, Op::Label(vec![("v".into(), "[]".into())]));
        // A build arg overrides a global default used by FROM.
        let df = parse(
            "ARG B=scratch\nFROM $B\n",
            Path::new("D"),
            &args(&[("B", "debian:12")]),
        )
        .unwrap();
        assert_eq!(df.base(), "debian:12");
    }

    #[test]
    fn env_forms_and_precedence() {
        let got = ops(
            "FROM scratch\nARG X=arg\nENV A=1 B=\"two words\" C='$A'\nENV LEGACY some value $A\nENV X=env\nLABEL x=$X p=$PATH\n",
        );
        assert_eq!(
            got[1].1,
            Op::Env(vec![
                ("A".into(), "1".into()),
                ("B".into(), "two words".into()),
                ("C".into(), "$A".into()),
            ])
        );
        assert_eq!(
            got[2].1,
            Op::Env(vec![("LEGACY".into(), "some value 1".into())])
        );
        assert_eq!(
            got[4].1,
            Op::Label(vec![
                ("x".into(), "env".into()),
                ("p".into(), DEFAULT_PATH.into())
            ])
        );
    }

    #[test]
    fn exec_and_shell_forms() {
        let got = ops(
            "FROM scratch\nENTRYPOINT [\"/app\", \"--flag\"]\nCMD serve --port $PORT\nCMD [not json\nRUN [\"echo\", \"hi\"]\n",
        );
        assert_eq!(got[0].1, Op::Entrypoint(strings(&["/app", "--flag"])));
        assert_eq!(
            got[1].1,
            Op::Cmd(strings(&["/bin/sh", "-c", "serve --port $PORT"]))
        );
        assert_eq!(got[2].1, Op::Cmd(strings(&["/bin/sh", "-c", "[not json"])));
        assert_eq!(got[3].1, Op::Run("[\"echo\", \"hi\"]".into()));
    }

    #[test]
    fn from_copy_and_expose_details() {
        let df = ok(
            "FROM --platform=$BUILDPLATFORM golang:1.23 AS build\nRUN go build\nfrom scratch\ncopy --from=build --chmod=0755 --chown=10:20 --link [\"/out/app\", \"/app\"]\nEXPOSE 80 53/UDP 8000-8002\nworkdir /srv\nUSER 10:20\nVOLUME /data\n",
        );
        assert_eq!(df.stage_count(), 2);
        assert_eq!(df.stages[0].name.as_deref(), Some("build"));
        assert_eq!(df.stages[0].platform.as_deref(), Some(""));
        assert!(df.needs_run());
        let ins = &df.final_stage().instructions;
        assert_eq!(
            ins[0].op,
            Op::Copy(Copy {
                sources: strings(&["/out/app"]),
                dest: "/app".into(),
                chmod: Some(0o755),
                chown: Some("10:20".into()),
                link: true,
                from: Some("build".into()),
            })
        );
        assert_eq!(
            ins[1].op,
            Op::Expose(strings(&[
                "80/tcp", "53/udp", "8000/tcp", "8001/tcp", "8002/tcp"
            ]))
        );
        assert_eq!(ins[2].op, Op::Workdir("/srv".into()));
        assert_eq!(ins[3].op, Op::User("10:20".into()));
        assert_eq!(
            ins[4].op,
            Op::Other {
                keyword: "VOLUME".into(),
                args: "/data".into()
            }
        );
    }

    #[test]
    fn errors_name_file_line_and_what_is_allowed() {
        let table = [
            ("FROM scratch\nCOPY onlyone\n", 2, "at least one source"),
            (
                "FROM scratch\n\nCOPY --exclude=x a b\n",
                3,
                "unsupported COPY flag",
            ),
            (
                "FROM scratch\nCOPY --chmod=9z a b\n",
                2,
                "not an octal mode",
            ),
            ("LABEL a=b\nFROM scratch\n", 1, "before the first FROM"),
            ("FROM scratch\nENV A=1 B\n", 2, "is not NAME=value"),
            ("FROM scratch\nLABEL a=${B\n", 2, "missing `}`"),
            ("FROM scratch\nEXPOSE http\n", 2, "is not a port"),
            ("FROM scratch\nCMD\n", 2, "needs a command"),
            ("FROM a b c\n", 1, "unexpected"),
            ("FROM --pull a\n", 1, "unknown FROM flag"),
            ("# escape=`\nFROM scratch\n", 1, "escape directive"),
            ("# only a comment\n", 1, "no FROM"),
            ("FROM scratch\nCOPY <<EOF /x\n", 2, "heredocs"),
            ("ARG 1X=2\nFROM scratch\n", 1, "not a valid ARG name"),
        ];
        for (text, line, needle) in table {
            let e = err(text);
            assert_eq!(e.line, line, "{text:?}: {e}");
            assert!(e.message.contains(needle), "{text:?}: {}", e.message);
            let shown = e.to_string();
            assert!(
                shown.starts_with(&format!("images/Dockerfile:{line}: ")),
                "{shown}"
            );
        }
        assert!(
            err("FROM scratch\nCOPY a\n")
                .help
                .as_deref()
                .unwrap()
                .contains("--chmod")
        );
    }

    #[test]
    fn native_blockers() {
        let table: [(&str, Option<&str>); 8] = [
            (
                "FROM scratch\nARG V=1\nCOPY app /app\nENV A=1\nLABEL a=b\nENTRYPOINT [\"/app\"]\nCMD x\nWORKDIR /w\nUSER 1:1\nEXPOSE 80\n",
                None,
            ),
            ("FROM scratch\nCOPY --chown=10 a /a\n", None),
            (
                "FROM scratch\n\nRUN true\n",
                Some("line 3: RUN needs a container engine"),
            ),
            (
                "FROM debian\nCOPY a /a\n",
                Some("line 1: FROM debian needs a container engine"),
            ),
            (
                "FROM scratch AS a\nFROM scratch\n",
                Some("line 2: a multi-stage build (2 stages)"),
            ),
            ("FROM scratch\nADD a /a\n", Some("line 2: ADD needs")),
            (
                "FROM scratch\nCOPY --from=img a /a\n",
                Some("line 2: COPY --from needs"),
            ),
            (
                "FROM scratch\nCOPY --chown=app a /a\n",
                Some("line 2: COPY --chown=app needs"),
            ),
        ];
        for (text, want) in table {
            let got = ok(text).native_blocker();
            match want {
                None => assert_eq!(got, None, "{text:?}"),
                Some(w) => assert!(
                    got.as_deref().is_some_and(|g| g.starts_with(w)),
                    "{text:?}: {got:?}"
                ),
            }
        }
        assert!(!ok("FROM scratch\nCOPY a /a\n").needs_run());
        assert_eq!(parse_owner("10"), Some((10, 10)));
        assert_eq!(parse_owner("10:20"), Some((10, 20)));
        assert_eq!(parse_owner("app:20"), None);
    }
}
