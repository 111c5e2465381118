//! The write store contract, run against SQLite and against Cosmos DB (the SDK's in-memory emulator).

use std::sync::Arc;

use pieshop::domain::answer::{Changed, CommandAnswer, ItemAnswer};
use pieshop::domain::{
    Aggregate, Amount, CommandId, Event, ItemState, LedgerChange, LedgerRead, Mark, Movement, Outcome, PendingTransfer,
    Quantity, Timestamp, TransferId, Version,
};
use pieshop::ports::WriteStore;
use pieshop::ports::write_store::{CommandOutcome, Commit, CommitResult, EventRef};

use crate::support::{key, location, sent_by, stock, stream};

fn item(location: &str, sku: &str, quantity: u32, version: u64) -> Aggregate {
    Aggregate::Item(ItemState {
        key: key(location, sku),
        quantity: Quantity::new(quantity).unwrap().into(),
        version: Version(version),
        ..ItemState::empty(key(location, sku))
    })
}

/// An answer told apart from others by `version`.
fn answer(command: CommandId, version: u64) -> Option<CommandAnswer> {
    let item = ItemAnswer {
        key: key("store-1", "apple-pie"),
        quantity: Quantity::new(7).unwrap().into(),
        version: Version(version),
    };
    Some(CommandAnswer {
        command_id: command,
        outcome: Outcome::Applied,
        delta: None,
        changed: Changed::Items(vec![item]),
        events: Vec::new(),
        transfer: None,
        unknown_location: false,
    })
}

fn outcome(command: CommandId, version: u64) -> CommandOutcome {
    CommandOutcome { command_id: command, request_hash: format!("hash-{command}"), answer: answer(command, version) }
}

fn commit(
    version: u64,
    expected: Option<pieshop::ports::write_store::ETag>,
    events: Vec<Event>,
) -> (Commit, CommandId) {
    let command = CommandId(uuid::Uuid::new_v4());
    let commit = Commit {
        stream: stream("store-1", "apple-pie"),
        expected,
        state: item("store-1", "apple-pie", version as u32 * 10, version),
        events,
        outcome: outcome(command, version),
        transfer: None,
        ledger: LedgerChange::None,
        barcodes: Default::default(),
    };
    (commit, command)
}

pub async fn a_missing_stream_loads_as_none(store: Arc<dyn WriteStore>) {
    assert!(store.load(&stream("nowhere", "nothing")).await.unwrap().is_none());
}

pub async fn a_commit_stores_state_events_and_marker_together(store: Arc<dyn WriteStore>) {
    let event = stock("store-1", "apple-pie", 1, 10, 0);
    let (first, command) = commit(1, None, vec![event.clone()]);
    assert!(matches!(store.commit(first).await.unwrap(), CommitResult::Committed { .. }));
    let loaded = store.load(&stream("store-1", "apple-pie")).await.unwrap().unwrap();
    assert_eq!(loaded.aggregate, item("store-1", "apple-pie", 10, 1));
    assert_eq!(store.events().await.unwrap(), vec![event]);
    let stored = store.outcome(&stream("store-1", "apple-pie"), command).await.unwrap().unwrap();
    assert_eq!(stored.answer, answer(command, 1));
    assert_eq!(stored.request_hash, format!("hash-{command}"));
}

pub async fn a_stale_etag_conflicts_and_writes_nothing(store: Arc<dyn WriteStore>) {
    let (first, _) = commit(1, None, vec![stock("store-1", "apple-pie", 1, 10, 0)]);
    store.commit(first).await.unwrap();
    let etag_v1 = store.load(&stream("store-1", "apple-pie")).await.unwrap().unwrap().etag;
    let (second, _) = commit(2, Some(etag_v1.clone()), vec![stock("store-1", "apple-pie", 2, 20, 1)]);
    assert!(matches!(store.commit(second).await.unwrap(), CommitResult::Committed { .. }));
    let etag_v2 = store.load(&stream("store-1", "apple-pie")).await.unwrap().unwrap().etag;
    assert_ne!(etag_v1, etag_v2, "every commit changes the ETag");

    let (stale, stale_command) = commit(3, Some(etag_v1), vec![stock("store-1", "apple-pie", 3, 30, 2)]);
    assert!(matches!(store.commit(stale).await.unwrap(), CommitResult::Conflict));
    assert_eq!(store.load(&stream("store-1", "apple-pie")).await.unwrap().unwrap().aggregate.version(), Version(2));
    assert_eq!(store.events().await.unwrap().len(), 2, "the conflicting commit's event was not written");
    assert!(store.outcome(&stream("store-1", "apple-pie"), stale_command).await.unwrap().is_none(), "nor its marker");
}

pub async fn creating_a_stream_twice_conflicts(store: Arc<dyn WriteStore>) {
    let (first, _) = commit(1, None, vec![stock("store-1", "apple-pie", 1, 10, 0)]);
    store.commit(first).await.unwrap();
    let (again, _) = commit(1, None, vec![stock("store-1", "apple-pie", 1, 10, 0)]);
    assert!(matches!(store.commit(again).await.unwrap(), CommitResult::Conflict));
    assert_eq!(store.events().await.unwrap().len(), 1);
}

pub async fn a_second_commit_of_one_command_returns_the_stored_outcome(store: Arc<dyn WriteStore>) {
    let (first, command) = commit(1, None, vec![stock("store-1", "apple-pie", 1, 10, 0)]);
    store.commit(first.clone()).await.unwrap();
    let etag = store.load(&stream("store-1", "apple-pie")).await.unwrap().unwrap().etag;
    let mut retry = first;
    retry.expected = Some(etag);
    retry.outcome.answer = answer(command, 99);
    match store.commit(retry).await.unwrap() {
        CommitResult::Duplicate(stored) => {
            assert_eq!((stored.command_id, stored.answer), (command, answer(command, 1)))
        }
        other => panic!("expected the stored outcome, got {other:?}"),
    }
    assert_eq!(store.events().await.unwrap().len(), 1);
}

pub async fn unpublished_events_are_listed_until_marked(store: Arc<dyn WriteStore>) {
    let a = stock("store-1", "apple-pie", 1, 10, 0);
    let (first, _) = commit(1, None, vec![a.clone()]);
    store.commit(first).await.unwrap();
    let later = Timestamp::parse("2030-01-01T00:00:00Z").unwrap();
    let earlier = Timestamp::parse("2020-01-01T00:00:00Z").unwrap();
    assert_eq!(store.unpublished(later, 100).await.unwrap(), vec![a.clone()]);
    assert!(store.unpublished(earlier, 100).await.unwrap().is_empty(), "younger events are left alone");
    store.mark_published(&[EventRef::from(&a)]).await.unwrap();
    assert!(store.unpublished(later, 100).await.unwrap().is_empty());
    store.mark_published(&[EventRef::from(&a)]).await.unwrap();
    assert_eq!(store.events().await.unwrap(), vec![a], "marking is idempotent and keeps the event");
}

/// Three apple pies from store-1 to the van, sent by `caller`.
fn pending_transfer(caller: Option<pieshop::domain::Caller>) -> PendingTransfer {
    PendingTransfer {
        transfer_id: TransferId(uuid::Uuid::new_v4()),
        from: key("store-1", "apple-pie").location,
        to: key("van", "apple-pie").location,
        sku: key("store-1", "apple-pie").sku,
        quantity: Amount::new(3).unwrap(),
        created_at: Timestamp::parse("2026-01-15T10:00:00Z").unwrap(),
        occurred_at: None,
        trace: None,
        caller,
    }
}

pub async fn a_pending_transfer_is_listed_until_finished(store: Arc<dyn WriteStore>) {
    let transfer = pending_transfer(None);
    let (mut first, _) = commit(1, None, vec![stock("store-1", "apple-pie", 1, 10, 0)]);
    first.transfer = Some(transfer.clone());
    store.commit(first).await.unwrap();
    let later = Timestamp::parse("2030-01-01T00:00:00Z").unwrap();
    assert_eq!(store.pending_transfers(later, 10).await.unwrap(), vec![transfer.clone()]);
    store.finish_transfer(&stream("store-1", "apple-pie"), transfer.transfer_id).await.unwrap();
    assert!(store.pending_transfers(later, 10).await.unwrap().is_empty());
    store.finish_transfer(&stream("store-1", "apple-pie"), transfer.transfer_id).await.unwrap();
}

pub async fn aggregates_lists_every_stream(store: Arc<dyn WriteStore>) {
    let (first, _) = commit(1, None, vec![stock("store-1", "apple-pie", 1, 10, 0)]);
    store.commit(first).await.unwrap();
    let mut other = commit(1, None, vec![stock("van", "pork-pie", 1, 5, 0)]).0;
    other.stream = stream("van", "pork-pie");
    other.state = item("van", "pork-pie", 5, 1);
    store.commit(other).await.unwrap();
    let mut all = store.aggregates().await.unwrap();
    all.sort_by_key(|a| a.stream().to_string());
    assert_eq!(all, vec![item("store-1", "apple-pie", 10, 1), item("van", "pork-pie", 5, 1)]);
}

/// The ETag a commit answers is the stream's new one: a load gives the same, and the next commit can use it
/// (what a cache of committed states in front of the store relies on).
pub async fn a_commit_answers_the_new_etag(store: Arc<dyn WriteStore>) {
    let (first, _) = commit(1, None, vec![stock("store-1", "apple-pie", 1, 10, 0)]);
    let CommitResult::Committed { etag } = store.commit(first).await.unwrap() else { panic!("not committed") };
    let loaded = store.load(&stream("store-1", "apple-pie")).await.unwrap().unwrap();
    assert_eq!(loaded.etag, etag);
    let (second, _) = commit(2, Some(etag), vec![stock("store-1", "apple-pie", 2, 20, 1)]);
    assert!(matches!(store.commit(second).await.unwrap(), CommitResult::Committed { .. }));
}

/// A command id names one command whichever stream it targets: committing it again on another stream writes
/// nothing and hands back the first one's outcome (whose hash then tells the caller the id was reused), and
/// looking it up on the other stream finds it too.
pub async fn a_command_id_used_on_another_stream_returns_the_first_outcome(store: Arc<dyn WriteStore>) {
    let (first, command) = commit(1, None, vec![stock("store-1", "apple-pie", 1, 10, 0)]);
    assert!(matches!(store.commit(first).await.unwrap(), CommitResult::Committed { .. }));
    let (mut reused, _) = commit(1, None, vec![stock("van", "pork-pie", 1, 5, 0)]);
    reused.stream = stream("van", "pork-pie");
    reused.state = item("van", "pork-pie", 5, 1);
    reused.outcome =
        CommandOutcome { command_id: command, request_hash: "another-body".into(), answer: answer(command, 0) };
    match store.commit(reused).await.unwrap() {
        CommitResult::Duplicate(stored) => assert_eq!(stored.request_hash, format!("hash-{command}")),
        other => panic!("a reused command id was {other:?}"),
    }
    assert!(store.load(&stream("van", "pork-pie")).await.unwrap().is_none(), "nothing written on the other stream");
    assert_eq!(store.events().await.unwrap().len(), 1);
    let found = store.outcome(&stream("van", "pork-pie"), command).await.unwrap();
    assert_eq!(found.map(|o| o.request_hash), Some(format!("hash-{command}")));
}

fn at(hour: u32, minute: u32) -> Timestamp {
    Timestamp::parse(&format!("2026-03-02T{hour:02}:{minute:02}:00Z")).unwrap()
}

/// Commits version `version` of store-1/apple-pie with one ledger change, on the ETag of the one before.
async fn commit_ledger(store: &Arc<dyn WriteStore>, version: u64, ledger: LedgerChange) {
    let expected = match version {
        1 => None,
        _ => Some(store.load(&stream("store-1", "apple-pie")).await.unwrap().unwrap().etag),
    };
    let (mut commit, _) = commit(version, expected, vec![stock("store-1", "apple-pie", version, 1, version as u32)]);
    commit.ledger = ledger;
    assert!(matches!(store.commit(commit).await.unwrap(), CommitResult::Committed { .. }));
}

/// The ledger: movements appended by commits, summed over the span a read names; a count's compaction leaves
/// the sums after it as they were; another item's ledger is its own.
pub async fn the_ledger_sums_what_a_read_names(store: Arc<dyn WriteStore>) {
    let movement = |hour, delta| Movement(at(hour, 0), CommandId(uuid::Uuid::new_v4()), delta);
    let (m10, m11, m12) = (movement(10, 5), movement(11, 3), movement(12, -2));
    for (version, m) in [(1, m10), (2, m11), (3, m12)] {
        commit_ledger(&store, version, LedgerChange::Append(m)).await;
    }
    let apple = stream("store-1", "apple-pie");
    let sum = |after: Option<Mark>, through: Option<Mark>| {
        let (store, apple) = (store.clone(), apple.clone());
        async move { store.ledger_sum(&apple, LedgerRead { after, through }).await.unwrap() }
    };
    assert_eq!(sum(None, None).await, 6, "everything");
    assert_eq!(sum(None, Some(m11.mark())).await, 8, "up to and including 11:00");
    assert_eq!(sum(Some(m10.mark()), None).await, 1, "after 10:00");
    assert_eq!(sum(Some(m10.mark()), Some(m11.mark())).await, 3, "between");
    let everything = LedgerRead { after: None, through: None };
    let other = store.ledger_sum(&stream("van", "apple-pie"), everything).await.unwrap();
    assert_eq!(other, 0, "another item's ledger is empty");

    let count = Mark { at: at(11, 30), command: CommandId(uuid::Uuid::new_v4()) };
    commit_ledger(&store, 4, LedgerChange::Compact(count)).await;
    assert_eq!(sum(Some(count), None).await, -2, "after the count, as before it");
    assert_eq!(sum(None, None).await, -2, "what the count compacted is gone");
}

/// Who sent a command is kept with its events and with a transfer's pending second half, which is theirs too.
pub async fn events_and_pending_transfers_keep_their_caller(store: Arc<dyn WriteStore>) {
    let event = sent_by(stock("store-1", "apple-pie", 1, 10, 0), "till-1");
    let transfer = pending_transfer(pieshop::domain::Caller::parse("dana@pieshop.example"));
    let (mut first, _) = commit(1, None, vec![event.clone()]);
    first.transfer = Some(transfer.clone());
    store.commit(first).await.unwrap();
    assert_eq!(store.events().await.unwrap(), vec![event]);
    let later = Timestamp::parse("2030-01-01T00:00:00Z").unwrap();
    assert_eq!(store.pending_transfers(later, 10).await.unwrap(), vec![transfer.clone()]);
    assert_eq!(transfer.in_leg().meta.caller.map(|c| c.to_string()).as_deref(), Some("dana@pieshop.example"));
}

/// Markers inside the idempotency window are never forgotten (Cosmos DB expires its own by `ttl`).
pub async fn markers_inside_the_window_are_kept(store: Arc<dyn WriteStore>) {
    let (first, command) = commit(1, None, vec![stock("store-1", "apple-pie", 1, 10, 0)]);
    store.commit(first).await.unwrap();
    let day = std::time::Duration::from_secs(24 * 3600);
    assert_eq!(store.expire_markers(Timestamp::now().minus(day), 100).await.unwrap(), 0);
    assert!(store.outcome(&stream("store-1", "apple-pie"), command).await.unwrap().is_some());
}

/// A location is a stream of its own (`locations/{location}`): committed, loaded back whole, its answer kept in its
/// marker, its event in the outbox, and listed among the aggregates, beside an item at that location.
pub async fn a_location_is_a_stream_of_its_own(store: Arc<dyn WriteStore>) {
    use pieshop::domain::{LocationKind, LocationName, LocationState, StreamId};
    let id = key("store-1", "apple-pie").location;
    let stream = StreamId::Location(id.clone());
    let state = LocationState {
        location: id.clone(),
        name: Some(LocationName::parse("High Street").unwrap()),
        kind: Some(LocationKind::Coldroom),
        retired: true,
        version: Version(1),
    };
    let command = CommandId(uuid::Uuid::new_v4());
    let answer = CommandAnswer {
        command_id: command,
        outcome: Outcome::Applied,
        delta: None,
        changed: Changed::Location(state.clone()),
        events: Vec::new(),
        transfer: None,
        unknown_location: false,
    };
    let event = location("store-1", "High Street", true, 1);
    let committed = store
        .commit(Commit {
            stream: stream.clone(),
            expected: None,
            state: Aggregate::Location(state.clone()),
            events: vec![event.clone()],
            outcome: CommandOutcome { command_id: command, request_hash: "hash".into(), answer: Some(answer.clone()) },
            transfer: None,
            ledger: LedgerChange::None,
            barcodes: Default::default(),
        })
        .await
        .unwrap();
    assert!(matches!(committed, CommitResult::Committed { .. }));
    let (item_commit, _) = commit(1, None, vec![stock("store-1", "apple-pie", 1, 10, 0)]);
    store.commit(item_commit).await.unwrap();
    assert_eq!(store.load(&stream).await.unwrap().unwrap().aggregate, Aggregate::Location(state.clone()));
    assert_eq!(store.outcome(&stream, command).await.unwrap().unwrap().answer, Some(answer));
    assert!(store.events().await.unwrap().contains(&event));
    let mut all = store.aggregates().await.unwrap();
    all.sort_by_key(|a| a.stream().to_string());
    assert_eq!(all, vec![Aggregate::Location(state), item("store-1", "apple-pie", 10, 1)]);
}

macro_rules! write_store_contract {
    ($adapter:ident, $make:expr) => {
        mod $adapter {
            use super::*;
            write_store_contract!(@cases $make; a_missing_stream_loads_as_none, a_commit_stores_state_events_and_marker_together,
                a_stale_etag_conflicts_and_writes_nothing, creating_a_stream_twice_conflicts,
                a_second_commit_of_one_command_returns_the_stored_outcome, unpublished_events_are_listed_until_marked,
                a_pending_transfer_is_listed_until_finished, aggregates_lists_every_stream,
                a_command_id_used_on_another_stream_returns_the_first_outcome, a_commit_answers_the_new_etag,
                the_ledger_sums_what_a_read_names, markers_inside_the_window_are_kept,
                a_location_is_a_stream_of_its_own, events_and_pending_transfers_keep_their_caller);
        }
    };
    (@cases $make:expr; $($case:ident),*) => {
        $(
            #[tokio::test]
            async fn $case() {
                #[allow(unused_variables)]
                let (store, guard) = $make;
                super::$case(store).await;
            }
        )*
    };
}

write_store_contract!(sqlite, {
    let (store, dir) = crate::support::sqlite_store();
    (store as Arc<dyn WriteStore>, Some(dir))
});
write_store_contract!(cosmos, {
    let store = crate::support::cosmos_store().await;
    (store as Arc<dyn WriteStore>, None::<tempfile::TempDir>)
});

/// SQLite forgets markers past the window, the oldest first, a bounded batch at a time.
#[tokio::test]
async fn sqlite_forgets_markers_past_the_window_a_batch_at_a_time() {
    let (store, _dir) = crate::support::sqlite_store();
    let store = store as Arc<dyn WriteStore>;
    let mut commands = Vec::new();
    for version in 1..=3u64 {
        let expected = match version {
            1 => None,
            _ => Some(store.load(&stream("store-1", "apple-pie")).await.unwrap().unwrap().etag),
        };
        let (commit, command) = commit(version, expected, vec![stock("store-1", "apple-pie", version, 1, 0)]);
        store.commit(commit).await.unwrap();
        commands.push(command);
    }
    let later = Timestamp::now().plus(std::time::Duration::from_secs(3600));
    assert_eq!(store.expire_markers(later, 2).await.unwrap(), 2, "a batch of two");
    let apple = stream("store-1", "apple-pie");
    assert!(store.outcome(&apple, commands[0]).await.unwrap().is_none(), "the oldest went first");
    assert!(store.outcome(&apple, commands[2]).await.unwrap().is_some(), "the newest waits for the next pass");
    assert_eq!(store.expire_markers(later, 2).await.unwrap(), 1);
    assert!(store.outcome(&apple, commands[2]).await.unwrap().is_none());
}

/// A Cosmos DB state document written before the ledger (movements inline in `history`, no `base`): the first
/// load moves its movements into ledger documents and answers the state as the ledger reads it.
#[tokio::test]
async fn cosmos_moves_an_inline_history_into_the_ledger_on_first_load() {
    use pieshop::adapters::cosmos::CosmosWriteStore;
    use pieshop::ports::CommandStore;
    let (client, settings) = crate::support::cosmos_client(Vec::new()).await;
    let container = client.database_client("pieshop").container_client("inventory", None).await.unwrap();
    let apple = stream("store-1", "apple-pie");
    let counted = Mark { at: at(9, 0), command: CommandId(uuid::Uuid::new_v4()) };
    let state = ItemState {
        quantity: pieshop::domain::Stock(12),
        version: Version(3),
        counted: Some(counted),
        ..ItemState::empty(key("store-1", "apple-pie"))
    };
    let mut legacy = serde_json::to_value(Aggregate::Item(state)).unwrap();
    legacy.as_object_mut().unwrap().remove("base");
    let (ten, eleven) = (CommandId(uuid::Uuid::new_v4()), CommandId(uuid::Uuid::new_v4()));
    legacy["history"] = serde_json::json!([[at(10, 0), ten, 5], [at(11, 0), eleven, -3]]);
    let doc =
        serde_json::json!({"id": "state", "pk": apple.to_string(), "kind": "state", "version": 3, "state": legacy});
    container.create_item(apple.to_string(), "state", doc, None).await.unwrap();

    let store = CosmosWriteStore::from_client(&client, &settings).await.unwrap();
    let Aggregate::Item(item) = store.load(&apple).await.unwrap().unwrap().aggregate else { panic!("an item") };
    assert_eq!((item.quantity.get(), item.base, item.counted), (12, 10, Some(counted)));
    assert_eq!(item.ledger.map(|span| (span.first.at, span.last.at)), Some((at(10, 0), at(11, 0))));
    let everything = LedgerRead { after: Some(counted), through: None };
    assert_eq!(store.ledger_sum(&apple, everything).await.unwrap(), 2, "both movements are ledger documents");
    let Aggregate::Item(again) = store.load(&apple).await.unwrap().unwrap().aggregate else { panic!("an item") };
    assert_eq!(again, item, "moved once; loading again changes nothing");
}
