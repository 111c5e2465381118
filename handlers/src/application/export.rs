//! Exports: the whole filtered result of a listing as CSV (`contract::csv`), read from the read model a page at a
//! time and handed on as it is read, so an export of any length holds one page in memory. The next page is read
//! only when the transport asks for more, i.e. once the client has taken what went before: a slow reader slows the
//! reads, it never makes the server buffer.
//!
//! The first page is read before anything is answered, so a read model that is down is still a 503 with a problem
//! body. A failure after that cannot be: the status line and the first rows have gone. The stream then ends with
//! the error, which the transport turns into an aborted body (HTTP/1.1: no final chunk; the client sees a transfer
//! cut short), never into a complete-looking file with rows missing.

use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::{self, BoxStream, StreamExt};

use super::queries::{ActivityPosition, ActivityQuery, InventoryQuery, QueryError};
use crate::contract::csv;
use crate::domain::{LocationId, Sku};
use crate::ports::ReadModel;

/// Rows per read: the listings' largest page.
pub const PAGE: usize = 500;

/// An export's text, chunk by chunk; an error ends it early (see the module's comment).
pub type Chunks = BoxStream<'static, Result<Bytes, QueryError>>;

/// Writes the listings out as CSV.
#[derive(Clone)]
pub struct Exports {
    read_model: Arc<dyn ReadModel>,
}

impl Exports {
    pub fn new(read_model: Arc<dyn ReadModel>) -> Self {
        Self { read_model }
    }

    /// Every item the query's filters match, one row each, sorted as the listing is (its `limit` and `after`
    /// are not used: an export is the whole result).
    pub async fn inventory(&self, query: &InventoryQuery) -> Result<Chunks, QueryError> {
        let query = InventoryQuery { limit: PAGE, after: None, ..query.clone() };
        let read_model = self.read_model.clone();
        let page = move |after: Option<(Sku, LocationId)>| {
            let (read_model, query) = (read_model.clone(), InventoryQuery { after, ..query.clone() });
            async move {
                let page = read_model.inventory(&query).await?;
                let next =
                    page.items.last().filter(|_| page.more).map(|last| (last.sku.clone(), last.location.clone()));
                Ok((csv::inventory_rows(&page.items)?, next.map(Some)))
            }
        };
        paged(csv::INVENTORY, None, page).await
    }

    /// Every event the query's filters match, newest first, one row each (its `limit` and `before` are not used).
    pub async fn activity(&self, query: &ActivityQuery) -> Result<Chunks, QueryError> {
        let query = ActivityQuery { limit: PAGE, before: None, ..query.clone() };
        let read_model = self.read_model.clone();
        let page = move |before: Option<ActivityPosition>| {
            let (read_model, query) = (read_model.clone(), ActivityQuery { before, ..query.clone() });
            async move {
                let events = read_model.activity(&query).await?;
                let next = events.last().filter(|_| events.len() == PAGE).map(ActivityPosition::of);
                Ok((csv::activity_rows(&events)?, next.map(Some)))
            }
        };
        paged(csv::ACTIVITY, None, page).await
    }

    /// The summary's products, one row per product and location. The summary is one aggregation in the read
    /// model (as for its JSON answer), bounded by the catalogue, not by the history; its rows go out in chunks.
    pub async fn summary(&self) -> Result<Chunks, QueryError> {
        let summary = self.read_model.summary().await?;
        let header = csv::header(csv::SUMMARY)?;
        let rows = stream::iter(summary.products)
            .chunks(PAGE)
            .map(|products| csv::summary_rows(&products).map_err(QueryError::from));
        Ok(stream::once(async { Ok(header) }).chain(rows).boxed())
    }
}

/// The header and the first page at once, then each further page when the stream is polled for it. `page`
/// reads the page at a position and returns its rows and the position of the next, if any.
async fn paged<P, F, Fut>(columns: &[&str], start: P, page: F) -> Result<Chunks, QueryError>
where
    P: Send + 'static,
    F: Fn(P) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(Bytes, Option<P>), QueryError>> + Send + 'static,
{
    let (rows, next) = page(start).await?;
    let mut first = Vec::from(csv::header(columns)?);
    first.extend_from_slice(&rows);
    let rest = stream::try_unfold(next, move |position| {
        let read = position.map(&page);
        async move {
            match read {
                None => Ok(None),
                Some(read) => read.await.map(Some),
            }
        }
    });
    Ok(stream::once(async { Ok(Bytes::from(first)) }).chain(rest).boxed())
}
