//! Errors of the channel renderers and packagers.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum PublishError {
    #[error("{channel}: template {template}: {message}")]
    #[diagnostic(
        code(matrix::publish::template),
        help("fix the template; the variables a channel template sees are listed in the README")
    )]
    Template {
        channel: String,
        template: String,
        message: String,
    },
    #[error("{channel}: {message}")]
    #[diagnostic(code(matrix::publish::invalid))]
    Invalid {
        channel: String,
        message: String,
        #[help]
        help: Option<String>,
    },
    #[error("{channel}: cannot write {}: {source}", path.display())]
    #[diagnostic(code(matrix::publish::io))]
    Io {
        channel: String,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{channel}: `{command}` failed: {detail}")]
    #[diagnostic(
        code(matrix::publish::tool),
        help("{program} comes from Debian's {package} package: apt-get install {package}")
    )]
    Tool {
        channel: String,
        command: String,
        detail: String,
        program: String,
        package: String,
    },
}

impl PublishError {
    pub fn template(channel: &str, template: &str, e: &minijinja::Error) -> Self {
        let mut message = e.to_string();
        if let Some(line) = e.line() {
            message = format!("line {line}: {message}");
        }
        PublishError::Template {
            channel: channel.to_string(),
            template: template.to_string(),
            message,
        }
    }

    pub fn io(channel: &str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let channel = channel.to_string();
        let path = path.into();
        move |source| PublishError::Io {
            channel,
            path,
            source,
        }
    }
}
