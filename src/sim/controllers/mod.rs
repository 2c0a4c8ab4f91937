//! Placeholder until the controllers land: the entry point kube-sim's API server calls.

use std::sync::Arc;

use super::SimConfig;
use super::store::Store;

/// The running controllers.
pub struct Controllers;

impl Controllers {
    /// Stops every controller.
    pub async fn shutdown(self) {}
}

/// Starts the controllers over the store.
pub fn start(_store: Arc<Store>, _cfg: SimConfig) -> Controllers {
    Controllers
}
