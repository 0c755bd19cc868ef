//! Integration tests: the real `matrix` binary on real projects.
//! One module per feature; `support` builds the throwaway projects.

mod apt;
mod attacks_review;
mod build;
mod cancel;
mod channels;
mod containers;
mod cosign;
mod cross;
mod errors;
mod failure;
mod faults;
mod go;
mod guard;
mod image_attestations;
mod images;
mod init;
mod installer;
mod limits;
mod linux_packages;
mod merge_attacks;
mod merge_limits;
mod msi;
mod output;
mod plan;
mod provenance;
mod repo_links;
mod sbom;
mod shards;
mod sign;
mod support;
mod taps;
mod toolchains;
mod universal;
mod verification;
mod workflows;
