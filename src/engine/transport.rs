//! What the scheduler needs from the network: send one `$batch`. `GraphClient` is the real
//! one; unit tests plug in fakes.

use std::future::Future;

use crate::graph::{ApiVersion, BatchError, BatchItem, BatchReply};

pub(crate) trait Transport: Send + Sync + 'static {
    fn batch(
        &self,
        version: ApiVersion,
        items: Vec<BatchItem>,
    ) -> impl Future<Output = Result<BatchReply, BatchError>> + Send;
}

impl Transport for crate::graph::GraphClient {
    async fn batch(
        &self,
        version: ApiVersion,
        items: Vec<BatchItem>,
    ) -> Result<BatchReply, BatchError> {
        crate::graph::GraphClient::batch(self, version, &items).await
    }
}
