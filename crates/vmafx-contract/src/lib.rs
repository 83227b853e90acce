//! The job contract: one home for the grammar and the rules of everything a job carries, so that
//! the CLI, the controller, the node, the operator's webhook and its job reconciler give the same
//! answer by construction.
//!
//! Nothing in here does I/O: no files, no network, no DNS. The checks that need the file system
//! or the network (canonical paths, resolved addresses) live on the node, in `vmafx-fetch`, and
//! start from the lexical checks in [`policy`].

pub mod feature;
pub mod limits;
pub mod model;
pub mod node;
pub mod policy;
pub mod result;
pub mod uri;

pub use feature::FeatureSpec;
pub use limits::{validate_job, JobDraft};
pub use model::{ModelOverride, ModelSource, ModelSpec, OciReference, OciTarget};
pub use node::{Backend, NodeDraft, Vendor};
pub use policy::InputPolicy;
pub use result::{NamedScore, PodResult};
pub use uri::JobUri;

use std::fmt;

/// An error and its sources on one line: the messages of clients and parsers ("error sending
/// request", "transport error") say why only in their sources. A source whose text the line
/// already holds is not repeated, and line breaks are folded.
pub fn error_line(error: &dyn std::error::Error) -> String {
    let mut line = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = cause.source();
    }
    line.replace(['\n', '\r'], " ")
}

/// A refused field: which one and why, in one line (`models[2]: …`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct FieldError {
    /// The field as the API names it, e.g. `reference` or `models[2]`.
    pub field: String,
    /// What is wrong with it, one line.
    pub message: String,
}

impl FieldError {
    /// A field error; line breaks in `message` are folded so that it stays one line.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> FieldError {
        let message: String = message.into();
        let message = if message.contains(['\n', '\r']) {
            message.split(['\n', '\r']).collect::<Vec<_>>().join(" ")
        } else {
            message
        };
        FieldError {
            field: field.into(),
            message,
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// How much of a refused value an error message quotes: enough to recognise it, never a 100 KiB
/// URI echoed back.
const QUOTE_CHARS: usize = 120;

/// `text` quoted for an error message: Rust debug quoting (so control characters stay escaped
/// and the message stays one line), cut after [`QUOTE_CHARS`] characters.
pub(crate) fn quote(text: &str) -> String {
    if text.chars().count() <= QUOTE_CHARS {
        return format!("{text:?}");
    }
    let head: String = text.chars().take(QUOTE_CHARS).collect();
    format!("{head:?}… ({} bytes)", text.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_lines_carry_their_causes_once_on_one_line() {
        #[derive(Debug)]
        struct Layer(&'static str, Option<Box<Layer>>);
        impl std::fmt::Display for Layer {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.0)
            }
        }
        impl std::error::Error for Layer {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                self.1.as_deref().map(|e| e as _)
            }
        }
        // The root's text is already in its wrapper's; the top's line break is folded.
        let root = Layer("UnknownIssuer", None);
        let wrapper = Layer(
            "invalid peer certificate: UnknownIssuer",
            Some(Box::new(root)),
        );
        let top = Layer("error sending\nrequest", Some(Box::new(wrapper)));
        assert_eq!(
            error_line(&top),
            "error sending request: invalid peer certificate: UnknownIssuer"
        );
    }

    #[test]
    fn field_errors_are_one_line() {
        let e = FieldError::new("models[2]", "bad\nthing");
        assert_eq!(e.to_string(), "models[2]: bad thing");
        assert_eq!(quote("a\nb"), "\"a\\nb\"");
        let long = "x".repeat(500);
        assert!(quote(&long).ends_with("… (500 bytes)"));
    }
}
