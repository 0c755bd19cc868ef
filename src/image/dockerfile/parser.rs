//! The Dockerfile parser proper: logical lines (continuations, comments,
//! directives), ARG/ENV scoping, and one method per instruction. The
//! public types and entry point are in the parent module.

use std::collections::BTreeMap;
use std::path::Path;

use miette::NamedSource;

use super::words::{expand, split_words, unquoted_eq};
use super::{
    Copy, DEFAULT_PATH, Dockerfile, DockerfileError, DockerfileErrorDetail, Instruction, Op, Stage,
};

/// See [`super::parse`].
pub(super) fn parse(
    text: &str,
    path: &Path,
    build_args: &BTreeMap<String, String>,
) -> Result<Dockerfile, DockerfileError> {
    let mut p = Parser {
        text,
        path,
        build_args,
        global: BTreeMap::new(),
        stages: Vec::new(),
        args: BTreeMap::new(),
        env: BTreeMap::new(),
    };
    for (line, logical) in
        logical_lines(text).map_err(|(line, (msg, help))| p.err(line, msg, help))?
    {
        p.instruction(line, &logical)
            .map_err(|(msg, help)| p.err(line, msg, help))?;
    }
    if p.stages.is_empty() {
        return Err(p.err(
            text.lines().count().max(1),
            "the Dockerfile has no FROM".to_string(),
            Some("start the build with `FROM scratch` or `FROM <image>`"),
        ));
    }
    Ok(Dockerfile {
        path: path.to_path_buf(),
        global_args: p.global,
        stages: p.stages,
    })
}

/// A message and what is allowed instead; the caller adds file and line.
type Failure = (String, Option<&'static str>);
/// Instructions with the 1-based line each starts on.
type LogicalLines = Vec<(usize, String)>;

/// Joins continuation lines and drops comments and blank lines, giving
/// each instruction with the 1-based line it starts on.
fn logical_lines(text: &str) -> Result<LogicalLines, (usize, Failure)> {
    let mut out = Vec::new();
    let mut current: Option<(usize, String)> = None;
    let mut seen_instruction = false;
    for (idx, raw) in text.lines().enumerate() {
        let line_no = idx + 1;
        let trimmed = raw.trim();
        if let Some(comment) = trimmed.strip_prefix('#') {
            // Parser directives (`# escape=`, `# syntax=`) may only open the
            // file; a different escape character would change how every
            // line below reads, so refuse it rather than misread.
            if !seen_instruction && current.is_none() {
                let directive = comment.trim().to_ascii_lowercase();
                if let Some(value) = directive.strip_prefix("escape=")
                    && value.trim() != "\\"
                {
                    return Err((
                        line_no,
                        (
                            format!("unsupported escape directive `{trimmed}`"),
                            Some("only the default escape character `\\` is supported"),
                        ),
                    ));
                }
            }
            continue;
        }
        if trimmed.is_empty() {
            continue;
        }
        seen_instruction = true;
        let body = raw.trim_end();
        let (piece, continues) = match body.strip_suffix('\\') {
            Some(rest) => (rest, true),
            None => (body, false),
        };
        let entry = current.get_or_insert_with(|| (line_no, String::new()));
        entry.1.push_str(piece);
        if !continues && let Some(done) = current.take() {
            out.push(done);
        }
    }
    // A continuation at the end of the file ends the instruction, as in Docker.
    out.extend(current);
    Ok(out)
}

struct Parser<'a> {
    text: &'a str,
    path: &'a Path,
    build_args: &'a BTreeMap<String, String>,
    global: BTreeMap<String, Option<String>>,
    stages: Vec<Stage>,
    /// ARG values of the current stage.
    args: BTreeMap<String, Option<String>>,
    /// ENV values of the current stage; these win over ARGs, as in Docker.
    env: BTreeMap<String, String>,
}

const FROM_HELP: &str = "FROM [--platform=<platform>] <image> [AS <name>]";
const COPY_HELP: &str =
    "COPY [--chmod=<octal>] [--chown=<uid>[:<gid>]] [--link] [--from=<stage>] <src>... <dest>";
const PAIRS_HELP: &str =
    "use NAME=value pairs (quote values with spaces), e.g. ENV A=1 B=\"two words\"";

impl Parser<'_> {
    fn err(&self, line: usize, message: String, help: Option<&str>) -> DockerfileError {
        let start: usize = self
            .text
            .split_inclusive('\n')
            .take(line - 1)
            .map(str::len)
            .sum();
        let len = self
            .text
            .get(start..)
            .and_then(|rest| rest.lines().next())
            .map_or(0, str::len);
        DockerfileError(Box::new(DockerfileErrorDetail {
            path: self.path.to_path_buf(),
            line,
            message,
            src: NamedSource::new(self.path.display().to_string(), self.text.to_string())
                .with_language("Dockerfile"),
            span: (start, len).into(),
            help: help.map(str::to_string),
        }))
    }

    fn lookup(&self, name: &str) -> Option<String> {
        if self.stages.is_empty() {
            return self.global.get(name).cloned().flatten();
        }
        self.env
            .get(name)
            .cloned()
            .or_else(|| self.args.get(name).cloned().flatten())
    }

    fn expand(&self, word: &str) -> Result<String, Failure> {
        expand(word, &|n| self.lookup(n)).map_err(|m| {
            (
                m,
                Some("allowed substitutions: $VAR, ${VAR}, ${VAR:-default}, ${VAR:+alternative}"),
            )
        })
    }

    fn instruction(&mut self, line: usize, logical: &str) -> Result<(), Failure> {
        let logical = logical.trim();
        let (keyword, rest) = logical
            .split_once(char::is_whitespace)
            .unwrap_or((logical, ""));
        let keyword = keyword.to_ascii_uppercase();
        let rest = rest.trim();
        match keyword.as_str() {
            "FROM" => return self.from(line, rest),
            "ARG" => return self.arg(line, rest),
            _ if self.stages.is_empty() => {
                return Err((
                    format!("{keyword} comes before the first FROM"),
                    Some("only ARG may come before the first FROM"),
                ));
            }
            _ => {}
        }
        let op = match keyword.as_str() {
            "COPY" => Op::Copy(self.copy(rest)?),
            "ADD" => Op::Add(rest.to_string()),
            "ENV" => {
                let pairs = self.pairs("ENV", rest)?;
                for (k, v) in &pairs {
                    self.env.insert(k.clone(), v.clone());
                }
                Op::Env(pairs)
            }
            "LABEL" => Op::Label(self.pairs("LABEL", rest)?),
            "ENTRYPOINT" => Op::Entrypoint(command("ENTRYPOINT", rest)?),
            "CMD" => Op::Cmd(command("CMD", rest)?),
            "WORKDIR" => Op::Workdir(self.single("WORKDIR", rest)?),
            "USER" => Op::User(self.single("USER", rest)?),
            "EXPOSE" => Op::Expose(self.expose(rest)?),
            "RUN" => Op::Run(rest.to_string()),
            _ => Op::Other {
                keyword,
                args: rest.to_string(),
            },
        };
        if let Some(stage) = self.stages.last_mut() {
            stage.instructions.push(Instruction { line, op });
        }
        Ok(())
    }

    fn from(&mut self, line: usize, rest: &str) -> Result<(), Failure> {
        let mut words = split_words(rest)
            .map_err(|m| (m, Some(FROM_HELP)))?
            .into_iter();
        let mut platform = None;
        let mut image = None;
        for word in words.by_ref() {
            if let Some(value) = word.strip_prefix("--platform=") {
                platform = Some(self.expand(value)?);
            } else if word.starts_with("--") {
                return Err((format!("unknown FROM flag `{word}`"), Some(FROM_HELP)));
            } else {
                image = Some(word);
                break;
            }
        }
        let image = image.ok_or_else(|| ("FROM needs an image".to_string(), Some(FROM_HELP)))?;
        let tail: Vec<String> = words.collect();
        let name = match tail.as_slice() {
            [] => None,
            [kw, name] if kw.eq_ignore_ascii_case("as") => Some(name.clone()),
            _ => {
                return Err((
                    format!("unexpected `{}` after the image", tail.join(" ")),
                    Some(FROM_HELP),
                ));
            }
        };
        // FROM only sees ARGs declared before the first FROM.
        let base = expand(&image, &|n| self.global.get(n).cloned().flatten())
            .map_err(|m| (m, Some(FROM_HELP)))?;
        if base.is_empty() {
            return Err((
                format!("the image `{image}` is empty after substitution"),
                Some("give the ARG a default or pass it as a build arg"),
            ));
        }
        self.args.clear();
        self.env.clear();
        if base == "scratch" {
            self.env
                .insert("PATH".to_string(), DEFAULT_PATH.to_string());
        }
        self.stages.push(Stage {
            line,
            base,
            platform,
            name,
            instructions: Vec::new(),
        });
        Ok(())
    }

    fn arg(&mut self, line: usize, rest: &str) -> Result<(), Failure> {
        const HELP: &str = "ARG <name>[=<default>]";
        let words = split_words(rest).map_err(|m| (m, Some(HELP)))?;
        if words.is_empty() {
            return Err(("ARG needs a name".to_string(), Some(HELP)));
        }
        for word in words {
            let (name, default) = match word.split_once('=') {
                Some((n, d)) => (n.to_string(), Some(self.expand(d)?)),
                None => (word, None),
            };
            if !is_name(&name) {
                return Err((format!("`{name}` is not a valid ARG name"), Some(HELP)));
            }
            let inherited = || self.global.get(&name).cloned().flatten();
            let value = self.build_args.get(&name).cloned().or(default).or_else(|| {
                if self.stages.is_empty() {
                    None
                } else {
                    inherited()
                }
            });
            match self.stages.last_mut() {
                None => {
                    self.global.insert(name, value);
                }
                Some(stage) => {
                    self.args.insert(name.clone(), value.clone());
                    stage.instructions.push(Instruction {
                        line,
                        op: Op::Arg { name, value },
                    });
                }
            }
        }
        Ok(())
    }

    fn copy(&self, rest: &str) -> Result<Copy, Failure> {
        let mut copy = Copy::default();
        let mut rest = rest.trim_start();
        while let Some(flag_text) = rest.strip_prefix("--") {
            let end = flag_text
                .find(char::is_whitespace)
                .unwrap_or(flag_text.len());
            let flag = &flag_text[..end];
            rest = flag_text[end..].trim_start();
            let (name, value) = match flag.split_once('=') {
                Some((n, v)) => (n, Some(self.expand(v)?)),
                None => (flag, None),
            };
            match (name, value) {
                ("chmod", Some(v)) => {
                    let mode = u32::from_str_radix(&v, 8).ok().filter(|m| *m <= 0o7777);
                    copy.chmod = Some(mode.ok_or_else(|| {
                        (
                            format!("--chmod={v} is not an octal mode"),
                            Some("use an octal mode such as --chmod=0755"),
                        )
                    })?);
                }
                ("chown", Some(v)) => copy.chown = Some(v),
                ("from", Some(v)) => copy.from = Some(v),
                ("link", None) => copy.link = true,
                ("link", Some(v)) => copy.link = v == "true",
                _ => return Err((format!("unsupported COPY flag `--{flag}`"), Some(COPY_HELP))),
            }
        }
        let words = match json_array(rest) {
            Some(list) => list,
            None => split_words(rest).map_err(|m| (m, Some(COPY_HELP)))?,
        };
        let mut words = words
            .iter()
            .map(|w| self.expand(w))
            .collect::<Result<Vec<_>, _>>()?;
        if words.len() < 2 {
            return Err((
                "COPY needs at least one source and a destination".to_string(),
                Some(COPY_HELP),
            ));
        }
        if words.iter().any(|w| w.starts_with("<<")) {
            return Err((
                "COPY heredocs are not supported".to_string(),
                Some("put the content in a file in the build context and COPY it"),
            ));
        }
        copy.dest = words.pop().unwrap_or_default();
        copy.sources = words;
        Ok(copy)
    }

    /// `NAME=value ...` pairs, or the legacy `NAME value` form.
    fn pairs(&self, keyword: &str, rest: &str) -> Result<Vec<(String, String)>, Failure> {
        let words = split_words(rest).map_err(|m| (m, Some(PAIRS_HELP)))?;
        let Some(first) = words.first() else {
            return Err((format!("{keyword} needs NAME=value"), Some(PAIRS_HELP)));
        };
        if unquoted_eq(first).is_none() {
            // Legacy form: the value is the rest of the line.
            let value = rest[rest.find(char::is_whitespace).unwrap_or(rest.len())..].trim();
            if value.is_empty() {
                return Err((format!("{keyword} {first} has no value"), Some(PAIRS_HELP)));
            }
            return Ok(vec![(self.expand(first)?, self.expand(value)?)]);
        }
        let mut pairs = Vec::with_capacity(words.len());
        for word in &words {
            let eq = unquoted_eq(word)
                .ok_or_else(|| (format!("`{word}` is not NAME=value"), Some(PAIRS_HELP)))?;
            let name = self.expand(&word[..eq])?;
            if name.is_empty() {
                return Err((format!("`{word}` has an empty name"), Some(PAIRS_HELP)));
            }
            pairs.push((name, self.expand(&word[eq + 1..])?));
        }
        Ok(pairs)
    }

    fn single(&self, keyword: &str, rest: &str) -> Result<String, Failure> {
        let value = self.expand(rest)?;
        if value.is_empty() {
            return Err((format!("{keyword} needs a value"), None));
        }
        Ok(value)
    }

    fn expose(&self, rest: &str) -> Result<Vec<String>, Failure> {
        const HELP: &str = "EXPOSE takes ports like 8080, 8080/tcp, 53/udp or 8000-8010";
        let mut ports = Vec::new();
        for word in split_words(rest).map_err(|m| (m, Some(HELP)))? {
            let spec = self.expand(&word)?;
            let bad = || (format!("`{spec}` is not a port"), Some(HELP));
            let (range, proto) = spec.split_once('/').unwrap_or((&spec, "tcp"));
            let proto = proto.to_ascii_lowercase();
            if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
                return Err(bad());
            }
            let (lo, hi) = range.split_once('-').unwrap_or((range, range));
            let lo: u16 = lo.parse().map_err(|_| bad())?;
            let hi: u16 = hi.parse().map_err(|_| bad())?;
            if lo == 0 || hi < lo {
                return Err(bad());
            }
            ports.extend((lo..=hi).map(|p| format!("{p}/{proto}")));
        }
        if ports.is_empty() {
            return Err(("EXPOSE needs a port".to_string(), Some(HELP)));
        }
        Ok(ports)
    }
}

/// ENTRYPOINT/CMD: the JSON exec form, else the shell form.
fn command(keyword: &str, rest: &str) -> Result<Vec<String>, Failure> {
    if let Some(list) = json_array(rest) {
        return Ok(list);
    }
    if rest.is_empty() {
        return Err((
            format!("{keyword} needs a command"),
            Some("use the exec form [\"/app\", \"--flag\"] or a shell command"),
        ));
    }
    Ok(vec![
        "/bin/sh".to_string(),
        "-c".to_string(),
        rest.to_string(),
    ])
}

/// A JSON array of strings; anything else is not the exec form (Docker
/// then falls back to the shell form too).
fn json_array(text: &str) -> Option<Vec<String>> {
    if !text.trim_start().starts_with('[') {
        return None;
    }
    serde_json::from_str(text).ok()
}

fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
