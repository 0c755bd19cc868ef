//! The limits every render runs within: minijinja fuel shared by an
//! [`super::Engine`]'s renders, and a cap on each rendered text.
//!
//! Part of `template`. The errors name the `[limits]` key to raise, and
//! carry the [`Limit`] so callers can tell them from template mistakes.

use std::io;

use super::TemplateError;
use crate::config::Limit;

/// Collects a render's output and refuses to grow past `max` bytes, so an
/// oversized value fails while it is written rather than after.
pub(super) struct Capped {
    pub(super) text: Vec<u8>,
    pub(super) max: u64,
    pub(super) over: bool,
}

impl io::Write for Capped {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if (self.text.len() + buf.len()) as u64 > self.max {
            self.over = true;
            return Err(io::Error::other("template output limit"));
        }
        self.text.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The engine's fuel (`fuel` in all) ran out during a render.
pub(super) fn out_of_fuel(fuel: u64) -> TemplateError {
    TemplateError {
        message: format!(
            "the templates of this plan did more work than the limit of {fuel} fuel ([limits] template-fuel) while rendering this one"
        ),
        range: None,
        help: Some(format!(
            "look for a loop that runs too long; if the release really needs more, raise the limit: [limits] template-fuel = {}",
            fuel.saturating_mul(4)
        )),
        limit: Some(Limit::TemplateFuel),
    }
}

/// A render's text passed `max` bytes.
pub(super) fn too_long(max: u64) -> TemplateError {
    TemplateError {
        message: format!(
            "the template renders to more than {max} bytes ([limits] max-template-output)"
        ),
        range: None,
        help: Some(format!(
            "a name, command or value should be short; if this one really is longer, raise the limit: [limits] max-template-output = {}",
            max.saturating_mul(4)
        )),
        limit: Some(Limit::TemplateOutput),
    }
}
