//! `[channels.<name>]` keys of an RPM package channel (`kind = "rpm"`):
//! the keys it shares with the deb channel (one list of them,
//! `packager::deb::config`), plus `release`.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::packager::deb::{Scripts, linux_config, with_shared_keys};

with_shared_keys!(linux_config! {
    /// The RPM package's own keys.
    RpmConfig {
        /// rpm: the package's release (default `1`): letters, digits, `.`, `_`, `+`, `~`.
        release: Option<String>,
    }
});
