//! The dead-letter port on the Azure Blob container Event Grid dead-letters into, through `azure_storage_blob`.
//! In Azure it signs in with the managed identity (or the operator's `az login`), which needs "Storage Blob Data
//! Contributor" on the container. The SDK has no shared-key auth, so the storage emulator (Azurite) is reached
//! with a SAS token instead: `PIESHOP_DEADLETTER_SAS`, emulator only.
//!
//! Blob storage has no rename: moving aside writes the copy under its prefix, then deletes the original.

use std::sync::Arc;

use async_trait::async_trait;
use azure_core::credentials::TokenCredential;
use azure_core::http::{RequestContent, StatusCode, Url};
use azure_storage_blob::{BlobClient, BlobContainerClient};
use futures::TryStreamExt;

use crate::ports::dead_letters::{Aside, DeadLetterError, DeadLetters, is_aside};
use azure_core::credentials::Secret;

/// How the container is reached.
pub enum ContainerAuth {
    /// An Entra token for `https://storage.azure.com/.default` (https URLs only).
    Entra(Arc<dyn TokenCredential>),
    /// A SAS token (query string) appended to every URL: for the emulator.
    Sas(Secret),
}

/// A dead-letter container, e.g. `https://<account>.blob.core.windows.net/deadletters`.
pub struct DeadLetterContainer {
    /// The container's URL, without any query: safe to print.
    url: Url,
    auth: ContainerAuth,
    container: BlobContainerClient,
}

/// The error with its causes, as text with any SAS signature blanked: transport errors quote the request URL,
/// and with a SAS that URL carries the secret.
fn unavailable(error: azure_core::Error) -> DeadLetterError {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    DeadLetterError::Unavailable(redact(&text).into())
}

/// `sig=<anything up to & or the end of the URL>` becomes `sig=***`.
fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("sig=") {
        out.push_str(&rest[..at + 4]);
        out.push_str("***");
        let value = &rest[at + 4..];
        let end = value.find(|c: char| c == '&' || c == ')' || c == '"' || c.is_whitespace()).unwrap_or(value.len());
        rest = &value[end..];
    }
    out.push_str(rest);
    out
}

fn not_found_or_unavailable(name: &str, error: azure_core::Error) -> DeadLetterError {
    if error.http_status() == Some(StatusCode::NotFound) {
        return DeadLetterError::NotFound(name.to_owned());
    }
    unavailable(error)
}

impl DeadLetterContainer {
    /// A client for the container at `url`. A SAS in the URL itself is refused: it would end up in shell
    /// history and in reports; it belongs in `PIESHOP_DEADLETTER_SAS`.
    pub fn new(url: &str, auth: ContainerAuth) -> Result<Self, DeadLetterError> {
        let url = Url::parse(url).map_err(|e| DeadLetterError::Unavailable(format!("{url}: {e}").into()))?;
        if url.query().is_some() {
            return Err(DeadLetterError::Unavailable(
                "the container URL carries a query (a SAS?): give it in PIESHOP_DEADLETTER_SAS instead".into(),
            ));
        }
        let (container_url, credential) = Self::signed(&url, &auth);
        let container = BlobContainerClient::new(container_url, credential, None).map_err(unavailable)?;
        Ok(Self { url, auth, container })
    }

    /// `url` with the SAS appended, and the credential to sign requests with (one or the other).
    fn signed(url: &Url, auth: &ContainerAuth) -> (Url, Option<Arc<dyn TokenCredential>>) {
        let mut url = url.clone();
        match auth {
            ContainerAuth::Entra(credential) => (url, Some(credential.clone())),
            ContainerAuth::Sas(sas) => {
                url.set_query(Some(sas.secret().trim_start_matches('?')));
                (url, None)
            }
        }
    }

    fn blob(&self, name: &str) -> Result<BlobClient, DeadLetterError> {
        let mut url = self.url.clone();
        url.path_segments_mut()
            .map_err(|()| DeadLetterError::Unavailable("the container URL cannot take a path".into()))?
            .pop_if_empty()
            .extend(name.split('/'));
        let (url, credential) = Self::signed(&url, &self.auth);
        BlobClient::new(url, credential, None).map_err(unavailable)
    }

    async fn download(&self, name: &str) -> Result<Vec<u8>, DeadLetterError> {
        let download = self.blob(name)?.download(None).await.map_err(|e| not_found_or_unavailable(name, e))?;
        let bytes = download.body.collect().await.map_err(unavailable)?;
        Ok(bytes.to_vec())
    }
}

#[async_trait]
impl DeadLetters for DeadLetterContainer {
    fn location(&self) -> String {
        self.url.to_string()
    }

    async fn list(&self) -> Result<Vec<String>, DeadLetterError> {
        let mut pages = self.container.list_blobs(None).map_err(unavailable)?;
        let mut names = Vec::new();
        while let Some(blob) = pages.try_next().await.map_err(unavailable)? {
            if let Some(name) = blob.name.filter(|n| n.ends_with(".json") && !is_aside(n)) {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    async fn read(&self, name: &str) -> Result<Vec<u8>, DeadLetterError> {
        self.download(name).await
    }

    async fn move_aside(&self, name: &str, to: Aside) -> Result<String, DeadLetterError> {
        let bytes = self.download(name).await?;
        let moved = format!("{}/{name}", to.prefix());
        self.blob(&moved)?.upload(RequestContent::from(bytes), None).await.map_err(unavailable)?;
        self.blob(name)?.delete(None).await.map_err(|e| not_found_or_unavailable(name, e))?;
        Ok(moved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What an unreachable container's error said before redaction (seen once; the SDK's retries make a live
    /// test take 80 s): `... error sending request for url (http://127.0.0.1:39989/devstoreaccount1/dl/...json?sv=1&sig=...)`.
    #[test]
    fn signatures_are_blanked_in_error_text() {
        let text = "error sending request for url (http://h/c?sv=1&sig=c2VjcmV0%3D&se=2) sig=x";
        assert_eq!(redact(text), "error sending request for url (http://h/c?sv=1&sig=***&se=2) sig=***");
    }

    #[test]
    fn a_sas_in_the_url_is_refused_and_the_location_never_shows_one() {
        let sas = || ContainerAuth::Sas(Secret::new("sv=2021-08-06&sig=c2VjcmV0"));
        let refused = DeadLetterContainer::new("http://127.0.0.1:10000/devstoreaccount1/dl?sv=1&sig=x", sas());
        assert!(matches!(refused, Err(DeadLetterError::Unavailable(_))));
        let container = DeadLetterContainer::new("http://127.0.0.1:10000/devstoreaccount1/dl", sas()).unwrap();
        assert_eq!(container.location(), "http://127.0.0.1:10000/devstoreaccount1/dl");
        let blob = container.blob("PROJECTION/2026/11/29/5/a b.json").unwrap();
        assert_eq!(blob.url().path(), "/devstoreaccount1/dl/PROJECTION/2026/11/29/5/a%20b.json", "one segment each");
        assert_eq!(blob.url().query(), Some("sv=2021-08-06&sig=c2VjcmV0"));
    }
}
