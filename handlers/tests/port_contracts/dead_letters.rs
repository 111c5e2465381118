//! The dead-letter source contract, run against a directory and a real blob container (Azurite, started here):
//! what `list` shows and hides, reading, moving aside (copy kept under its prefix, original gone), and names that
//! are not there.

use azure_core::credentials::Secret;
use azure_core::http::{RequestContent, Url};
use pieshop::adapters::dead_letter_blob::{ContainerAuth, DeadLetterContainer};
use pieshop::adapters::dead_letter_dir::DeadLetterDirectory;
use pieshop::ports::dead_letters::Aside;
use pieshop::ports::{DeadLetterError, DeadLetters};

const A: &str = "PROJECTION/2026/11/29/5/aaaaaaaa-0000-4000-8000-000000000001.json";
const B: &str = "PROJECTION/2026/11/29/17/bbbbbbbb-0000-4000-8000-000000000002.json";
/// What a source holds before the cases run: two waiting blobs, and what `list` must not show.
const SEEDED: [(&str, &[u8]); 4] = [
    (A, b"[{\"id\": \"a\"}]"),
    (B, b"[{\"id\": \"b\"}]"),
    ("PROJECTION/2026/11/29/5/notes.txt", b"not a dead letter"),
    ("replayed/PROJECTION/2026/1/1/0/cccccccc-0000-4000-8000-000000000003.json", b"[]"),
];

async fn the_dead_letter_contract_holds(source: &dyn DeadLetters) {
    assert_eq!(source.list().await.unwrap(), [B, A], "waiting .json blobs only, sorted by name");
    assert_eq!(source.read(A).await.unwrap(), SEEDED[0].1);
    let missing = "PROJECTION/2026/11/29/5/dddddddd-0000-4000-8000-000000000004.json";
    assert!(matches!(source.read(missing).await, Err(DeadLetterError::NotFound(_))));

    let moved = source.move_aside(A, Aside::Unreadable).await.unwrap();

    assert_eq!(moved, format!("unreadable/{A}"));
    assert_eq!(source.list().await.unwrap(), [B], "a blob moved aside is not waiting any more");
    assert_eq!(source.read(&moved).await.unwrap(), SEEDED[0].1, "the copy keeps the bytes");
    assert!(matches!(source.read(A).await, Err(DeadLetterError::NotFound(_))), "and the original is gone");
    assert!(matches!(source.move_aside(missing, Aside::Replayed).await, Err(DeadLetterError::NotFound(_))));
    assert!(!source.location().contains("sig="), "the location never carries a secret");
}

#[tokio::test]
async fn a_directory_keeps_the_dead_letter_contract() {
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in SEEDED {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    the_dead_letter_contract_holds(&DeadLetterDirectory::open(dir.path()).unwrap()).await;
}

#[tokio::test]
async fn an_azurite_container_keeps_the_dead_letter_contract() {
    let Some(azurite) = crate::azurite::Azurite::start() else { return };
    let sas = azurite.sas();
    let url = format!("{}/deadletters", azurite.account_url);
    let signed = |path: &str| {
        let mut url = Url::parse(&url).unwrap();
        url.path_segments_mut().unwrap().extend(path.split('/').filter(|s| !s.is_empty()));
        url.set_query(Some(&sas));
        url
    };
    let container = azure_storage_blob::BlobContainerClient::new(signed(""), None, None).unwrap();
    container.create(None).await.unwrap();
    for (name, bytes) in SEEDED {
        let blob = azure_storage_blob::BlobClient::new(signed(name), None, None).unwrap();
        blob.upload(RequestContent::from(bytes.to_vec()), None).await.unwrap();
    }
    let source = DeadLetterContainer::new(&url, ContainerAuth::Sas(Secret::new(sas.clone()))).unwrap();
    the_dead_letter_contract_holds(&source).await;
}
