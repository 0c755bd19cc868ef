//! The push job's last step with `[sign]`: each repository the image went
//! to gets cosign's signatures of the index and of every manifest it
//! lists, made with the `[sign]` key's Ed25519 half.
//!
//! Part of `exec`; the layout and the registry conversation are
//! [`crate::image::cosign`]. A push job runs once per image variant in a
//! whole build and in a merge (shards push nothing), so each image is
//! signed once per release.

use std::path::PathBuf;
use std::sync::Arc;

use super::context::{Context, log_path};
use super::error::JobError;
use super::process;
use crate::image::cosign::push::{self, Key};
use crate::image::registry;

/// The key images are signed with, when the plan signs them.
pub(super) fn signer(
    ctx: &Context,
) -> Result<Option<Arc<crate::packager::sign::Signer>>, JobError> {
    if ctx
        .plan
        .sign
        .as_ref()
        .is_none_or(|s| s.cosign_key.is_none())
    {
        return Ok(None);
    }
    ctx.signer.clone().map(Some).ok_or_else(|| JobError::Sign {
        message: "the [sign] key was not loaded".into(),
    })
}

/// Signs the pushed `root` (read from the layout at `layout`) in every
/// repository of `repositories`, noting each tag in the job's log.
pub(super) async fn sign_pushed(
    ctx: &Context,
    job: usize,
    signer: Arc<crate::packager::sign::Signer>,
    layout: PathBuf,
    root: registry::Descriptor,
    repositories: Vec<String>,
) -> Result<(), JobError> {
    let job_id = ctx.plan.jobs[job].id.clone();
    let log = log_path(&ctx.plan, job);
    // Registry calls run to their end: off the scheduler's threads.
    tokio::task::spawn_blocking(move || {
        let fail = |e: String| JobError::Sign {
            message: format!("{job_id}: signing the image: {e}"),
        };
        let public = signer
            .ed25519_public()
            .ok_or_else(|| fail("the [sign] key is not Ed25519".into()))?;
        let sign = |payload: &[u8]| signer.sign_ed25519(payload).map(|(_, sig)| sig);
        let key = Key {
            sign: &sign,
            public,
        };
        for repo in &repositories {
            let reference = registry::Reference::parse(repo).map_err(|e| fail(describe(&e)))?;
            let signed =
                push::sign(&layout, &root, &reference, &key).map_err(|e| fail(describe(&e)))?;
            for s in signed {
                let line = match &s.pushed {
                    Some(manifest) => format!(
                        "signed {} as {}@{manifest} ({})",
                        s.digest,
                        s.reference,
                        crate::human::count(s.signatures, "signature", "signatures")
                    ),
                    None => format!(
                        "{} already holds this signature of {}",
                        s.reference, s.digest
                    ),
                };
                let _ = process::note(&log, &line);
            }
        }
        Ok(())
    })
    .await
    .map_err(|_| JobError::Cancelled)?
}

/// The error with its hint, as one line.
fn describe(e: &dyn miette::Diagnostic) -> String {
    match e.help() {
        Some(help) => format!("{e} (help: {help})"),
        None => e.to_string(),
    }
}
