//! The Entra credential every Azure adapter shares: managed identity in Azure (user-assigned when
//! `AZURE_CLIENT_ID` is set), developer tools (`az login`) on a laptop.

use std::sync::Arc;

use azure_core::credentials::TokenCredential;
use azure_identity::{
    DeveloperToolsCredential, ManagedIdentityCredential, ManagedIdentityCredentialOptions, UserAssignedId,
};

/// The credential could not be created.
#[derive(Debug, thiserror::Error)]
#[error("cannot create an Entra credential: {0}")]
pub struct CredentialError(String);

/// Managed identity when running in Azure (the Functions host sets `IDENTITY_ENDPOINT`), otherwise the
/// developer's own `az`/`azd` login.
pub fn credential(client_id: Option<&str>) -> Result<Arc<dyn TokenCredential>, CredentialError> {
    if std::env::var_os("IDENTITY_ENDPOINT").is_some() || client_id.is_some() {
        let options = ManagedIdentityCredentialOptions {
            user_assigned_id: client_id.map(|id| UserAssignedId::ClientId(id.to_owned())),
            ..Default::default()
        };
        let credential = ManagedIdentityCredential::new(Some(options)).map_err(|e| CredentialError(e.to_string()))?;
        return Ok(credential);
    }
    let credential = DeveloperToolsCredential::new(None).map_err(|e| CredentialError(e.to_string()))?;
    Ok(credential)
}
