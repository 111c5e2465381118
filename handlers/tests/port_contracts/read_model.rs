//! The read model contract, run against SQLite and against real Elasticsearch.

use std::sync::Arc;

use pieshop::domain::{Event, EventKind, LocationId, Sku, Timestamp, TransferId, TransferLeg, Version};
use pieshop::ports::ReadModel;
use pieshop::ports::read_model::{ActivityPosition, ActivityQuery, Applied, InventoryQuery};

use crate::support::{key, location, product, sent_by, stock};

fn all(limit: usize) -> InventoryQuery {
    InventoryQuery { limit, ..Default::default() }
}

async fn keys(model: &Arc<dyn ReadModel>, query: InventoryQuery) -> Vec<String> {
    model.inventory(&query).await.unwrap().items.iter().map(|i| i.key().to_string()).collect()
}

async fn apply_all(model: &Arc<dyn ReadModel>, events: &[Event]) {
    for event in events {
        model.apply(event).await.unwrap();
    }
}

pub async fn a_newer_version_applies_and_an_older_or_equal_one_is_stale(model: Arc<dyn ReadModel>) {
    let v1 = stock("store-1", "apple-pie", 1, 10, 0);
    let v2 = stock("store-1", "apple-pie", 2, 7, 1);
    assert_eq!(model.apply(&v2).await.unwrap(), Applied::Applied);
    assert_eq!(model.apply(&v1).await.unwrap(), Applied::Stale, "older, arriving late");
    assert_eq!(model.apply(&v2).await.unwrap(), Applied::Stale, "duplicate");
    let item = model.item(&key("store-1", "apple-pie")).await.unwrap().unwrap();
    assert_eq!((item.quantity.get(), item.version), (7, Version(2)));
    assert!(model.item(&key("store-2", "apple-pie")).await.unwrap().is_none());
}

pub async fn products_name_items_and_set_low_stock(model: Arc<dyn ReadModel>) {
    apply_all(
        &model,
        &[
            stock("store-1", "apple-pie", 1, 3, 0),
            stock("store-2", "apple-pie", 1, 30, 1),
            stock("van", "pork-pie", 1, 1, 2),
        ],
    )
    .await;
    model.apply(&product("apple-pie", "Bramley Apple Pie", Some(5), 2)).await.unwrap();
    assert_eq!(model.apply(&product("apple-pie", "Old Name", None, 1)).await.unwrap(), Applied::Stale);
    let item = model.item(&key("store-1", "apple-pie")).await.unwrap().unwrap();
    assert_eq!((item.name.as_str(), item.low()), ("Bramley Apple Pie", true));
    let undefined = model.item(&key("van", "pork-pie")).await.unwrap().unwrap();
    assert_eq!((undefined.name.as_str(), undefined.low()), ("pork-pie", false), "an undefined sku shows as its name");
    let low = InventoryQuery { low_stock_only: true, ..all(10) };
    assert_eq!(keys(&model, low).await, ["store-1/apple-pie"]);
}

pub async fn inventory_filters_sorts_and_pages(model: Arc<dyn ReadModel>) {
    apply_all(
        &model,
        &[
            stock("store-2", "apple-pie", 1, 1, 0),
            stock("store-1", "apple-pie", 1, 1, 1),
            stock("van", "custard-tart", 1, 1, 2),
            stock("store-1", "scotch-egg", 1, 1, 3),
        ],
    )
    .await;
    assert_eq!(
        keys(&model, all(10)).await,
        ["store-1/apple-pie", "store-2/apple-pie", "van/custard-tart", "store-1/scotch-egg"]
    );
    let at_store_1 = InventoryQuery { location: Some(LocationId::parse("store-1").unwrap()), ..all(10) };
    assert_eq!(keys(&model, at_store_1).await, ["store-1/apple-pie", "store-1/scotch-egg"]);
    let one_sku = InventoryQuery { sku: Some(Sku::parse("apple-pie").unwrap()), ..all(10) };
    assert_eq!(keys(&model, one_sku).await, ["store-1/apple-pie", "store-2/apple-pie"]);
    let first = model.inventory(&all(2)).await.unwrap();
    assert!(first.more);
    let last = first.items.last().unwrap();
    let next = InventoryQuery { after: Some((last.sku.clone(), last.location.clone())), ..all(2) };
    let second = model.inventory(&next).await.unwrap();
    assert!(!second.more);
    assert_eq!(
        second.items.iter().map(|i| i.key().to_string()).collect::<Vec<_>>(),
        ["van/custard-tart", "store-1/scotch-egg"]
    );
}

pub async fn search_matches_words_of_names_and_skus(model: Arc<dyn ReadModel>) {
    apply_all(
        &model,
        &[
            stock("store-1", "apple-pie", 1, 1, 0),
            stock("store-1", "pork-pie", 1, 1, 1),
            stock("van", "custard-tart", 1, 1, 2),
        ],
    )
    .await;
    model.apply(&product("pork-pie", "Melton Mowbray", None, 1)).await.unwrap();
    let search = |text: &str| InventoryQuery { text: Some(text.into()), ..all(10) };
    assert_eq!(keys(&model, search("melton")).await, ["store-1/pork-pie"]);
    assert_eq!(keys(&model, search("cust")).await, ["van/custard-tart"]);
    assert_eq!(keys(&model, search("pie")).await, ["store-1/apple-pie", "store-1/pork-pie"]);
    assert_eq!(keys(&model, search("apple pie")).await, ["store-1/apple-pie"], "every word must match");
    assert!(keys(&model, search("\" OR * AND (")).await.is_empty(), "query syntax is just text");
}

pub async fn the_summary_totals_products_and_locations(model: Arc<dyn ReadModel>) {
    apply_all(
        &model,
        &[
            stock("store-1", "apple-pie", 1, 12, 0),
            stock("store-2", "apple-pie", 1, 3, 1),
            stock("store-1", "pork-pie", 1, 0, 2),
        ],
    )
    .await;
    model.apply(&product("scotch-egg", "Scotch Egg", Some(4), 1)).await.unwrap();
    let summary = model.summary().await.unwrap();
    let apple = summary.products.iter().find(|p| p.sku.as_str() == "apple-pie").unwrap();
    assert_eq!(apple.total, 15);
    let by_location: Vec<(String, i64)> = apple.by_location.iter().map(|(l, q)| (l.to_string(), q.get())).collect();
    assert_eq!(by_location, [("store-1".to_string(), 12), ("store-2".to_string(), 3)]);
    let egg = summary.products.iter().find(|p| p.sku.as_str() == "scotch-egg").unwrap();
    assert_eq!((egg.total, egg.name.as_str()), (0, "Scotch Egg"), "a defined product without stock shows as 0");
    let store_1 = summary.locations.iter().find(|l| l.location.as_str() == "store-1").unwrap();
    assert_eq!((store_1.total, store_1.skus), (12, 1), "skus counts those with stock on hand");
}

pub async fn activity_is_newest_first_once_per_event(model: Arc<dyn ReadModel>) {
    let events = [
        stock("store-1", "apple-pie", 1, 1, 0),
        stock("store-1", "apple-pie", 2, 2, 5),
        stock("van", "pork-pie", 1, 1, 9),
    ];
    apply_all(&model, &events).await;
    model.apply(&events[0]).await.unwrap();
    let query = |location: Option<&str>| ActivityQuery {
        location: location.map(|l| LocationId::parse(l).unwrap()),
        sku: None,
        limit: 10,
        ..Default::default()
    };
    let ids: Vec<_> = model.activity(&query(None)).await.unwrap().iter().map(Event::id).collect();
    assert_eq!(ids, [events[2].id(), events[1].id(), events[0].id()]);
    assert_eq!(model.activity(&query(Some("van"))).await.unwrap(), vec![events[2].clone()]);
    assert_eq!(model.as_of().await.unwrap(), Some(events[2].recorded_at()));
}

/// Activity entries say who sent each command (and nothing where nobody is known), for stock and products alike.
pub async fn activity_keeps_who_sent_each_command(model: Arc<dyn ReadModel>) {
    let events = [
        sent_by(stock("store-1", "apple-pie", 1, 1, 0), "till-1"),
        stock("store-1", "apple-pie", 2, 2, 5),
        sent_by(product("apple-pie", "Apple pie", None, 1), "dana@pieshop.example"),
    ];
    apply_all(&model, &events).await;
    let query = ActivityQuery { sku: Some(Sku::parse("apple-pie").unwrap()), limit: 10, ..Default::default() };
    let logged = model.activity(&query).await.unwrap();
    let callers = |events: &[Event]| {
        let mut callers: Vec<_> = events.iter().map(|e| (e.id(), caller_of(e))).collect();
        callers.sort();
        callers
    };
    assert_eq!(callers(&logged), callers(&events));
    assert!(
        logged.iter().any(|e| caller_of(e).is_none()) && logged.iter().filter(|e| caller_of(e).is_some()).count() == 2
    );
}

fn caller_of(event: &Event) -> Option<String> {
    match event {
        Event::Stock(e) => e.caller.as_ref().map(ToString::to_string),
        Event::Product(e) => e.caller.as_ref().map(ToString::to_string),
        Event::Location(e) => e.caller.as_ref().map(ToString::to_string),
    }
}

/// An event overtaken by a newer one changes no item, yet it happened: the log shows it, once.
pub async fn an_overtaken_event_is_logged_once_though_stale(model: Arc<dyn ReadModel>) {
    let (v1, v2) = (stock("store-1", "apple-pie", 1, 1, 0), stock("store-1", "apple-pie", 2, 2, 5));
    assert_eq!(model.apply(&v2).await.unwrap(), Applied::Applied);
    assert_eq!(model.apply_batch(&[v1.clone(), v1.clone()]).await.unwrap(), [Applied::Stale, Applied::Stale]);
    assert_eq!(model.apply(&v1).await.unwrap(), Applied::Stale);
    let ids: Vec<_> = model
        .activity(&ActivityQuery { limit: 10, ..Default::default() })
        .await
        .unwrap()
        .iter()
        .map(Event::id)
        .collect();
    assert_eq!(ids, [v2.id(), v1.id()]);
    assert_eq!(model.item(&key("store-1", "apple-pie")).await.unwrap().unwrap().version, Version(2));
}

pub async fn an_empty_read_model_answers_empty(model: Arc<dyn ReadModel>) {
    assert!(model.inventory(&all(10)).await.unwrap().items.is_empty());
    assert!(model.summary().await.unwrap().products.is_empty());
    assert_eq!(model.as_of().await.unwrap(), None);
}

pub async fn a_rebuild_replaces_the_read_model_with_the_replayed_events(model: Arc<dyn ReadModel>) {
    let kept = [stock("store-1", "apple-pie", 1, 4, 0), stock("store-1", "apple-pie", 2, 6, 1)];
    apply_all(&model, &[stock("van", "stray-item", 1, 99, 0)]).await;
    apply_all(&model, &kept[..1]).await;
    model.rebuild(&[kept[0].clone(), kept[1].clone(), product("apple-pie", "Apple Pie", None, 1)]).await.unwrap();
    assert_eq!(keys(&model, all(10)).await, ["store-1/apple-pie"], "only what was replayed survives");
    let item = model.item(&key("store-1", "apple-pie")).await.unwrap().unwrap();
    assert_eq!((item.quantity.get(), item.version, item.name.as_str()), (6, Version(2), "Apple Pie"));
    assert_eq!(model.apply(&kept[1]).await.unwrap(), Applied::Stale, "the rebuilt copy is the live one");
    assert_eq!(model.activity(&ActivityQuery { limit: 10, ..Default::default() }).await.unwrap().len(), 3);
}

pub async fn a_batch_applies_in_order_with_an_outcome_per_event(model: Arc<dyn ReadModel>) {
    let v1 = stock("store-1", "apple-pie", 1, 1, 0);
    let v2 = stock("store-1", "apple-pie", 2, 2, 1);
    let other = stock("van", "pork-pie", 1, 5, 2);
    let outcomes = model.apply_batch(&[v1.clone(), v2.clone(), v1.clone(), other.clone(), v2.clone()]).await.unwrap();
    assert_eq!(outcomes, [Applied::Applied, Applied::Applied, Applied::Stale, Applied::Applied, Applied::Stale]);
    assert_eq!(model.item(&key("store-1", "apple-pie")).await.unwrap().unwrap().version, Version(2));
    assert_eq!(
        model.activity(&ActivityQuery { limit: 10, ..Default::default() }).await.unwrap().len(),
        3,
        "once per event"
    );
    assert!(model.apply_batch(&[]).await.unwrap().is_empty());
}

/// Both halves of a transfer, as the write side makes them: out of `from` at version 2, into `to` at version 1.
fn transfer_halves(from: &str, to: &str, quantity: u32) -> (Event, Event) {
    let leg = TransferLeg {
        transfer_id: TransferId(uuid::Uuid::new_v4()),
        from: LocationId::parse(from).unwrap(),
        to: LocationId::parse(to).unwrap(),
    };
    let half = |location: &str, kind: EventKind, version: u64, delta: i64| {
        let Event::Stock(mut e) = stock(location, "apple-pie", version, 5, 3) else { unreachable!() };
        (e.kind, e.delta, e.amount, e.transfer) = (kind, delta, quantity, Some(leg.clone()));
        Event::Stock(e)
    };
    let out = half(from, EventKind::TransferredOut, 2, -i64::from(quantity));
    (out, half(to, EventKind::TransferredIn, 1, i64::from(quantity)))
}

pub async fn a_transfer_is_in_transit_until_its_second_half_in_any_order(model: Arc<dyn ReadModel>) {
    let (out, arrived) = transfer_halves("store-1", "van", 4);
    apply_all(&model, std::slice::from_ref(&out)).await;
    let in_transit = model.summary().await.unwrap().in_transit;
    assert_eq!(in_transit.len(), 1);
    assert_eq!((in_transit[0].from.as_str(), in_transit[0].to.as_str(), in_transit[0].quantity), ("store-1", "van", 4));
    apply_all(&model, &[arrived, out]).await;
    assert!(model.summary().await.unwrap().in_transit.is_empty(), "arrived, and a duplicate of the first half");

    let (out, arrived) = transfer_halves("van", "store-1", 2);
    apply_all(&model, &[arrived.clone(), out, arrived]).await;
    assert!(model.summary().await.unwrap().in_transit.is_empty(), "the second half first: never in transit");
}

/// The locations listing: defined ones (newest version wins, retired flagged) merged with the locations of items,
/// sorted by id; a location's events are in neither the activity nor `as_of`.
pub async fn locations_list_definitions_and_locations_holding_items(model: Arc<dyn ReadModel>) {
    assert!(model.locations().await.unwrap().is_empty());
    apply_all(&model, &[stock("store-1", "apple-pie", 1, 5, 0), stock("store-1", "pork-pie", 1, 0, 1)]).await;
    apply_all(&model, &[stock("store-l", "apple-pie", 1, 3, 2)]).await;
    let as_of = model.as_of().await.unwrap();
    assert_eq!(model.apply(&location("store-1", "High Street", false, 1)).await.unwrap(), Applied::Applied);
    assert_eq!(model.apply(&location("van", "Van", true, 2)).await.unwrap(), Applied::Applied);
    assert_eq!(model.apply(&location("van", "Old van", false, 1)).await.unwrap(), Applied::Stale, "older");
    let listed = model.locations().await.unwrap();
    let shown: Vec<String> = listed
        .iter()
        .map(|l| {
            format!("{} {:?} {} {:?} {} {}", l.location, l.name, l.retired, l.version.map(|v| v.0), l.skus, l.total)
        })
        .collect();
    assert_eq!(
        shown,
        [
            "store-1 Some(\"High Street\") false Some(1) 1 5",
            "store-l None false None 1 3",
            "van Some(\"Van\") true Some(2) 0 0",
        ]
    );
    assert_eq!(listed[0].kind, Some(pieshop::domain::LocationKind::Shop));
    assert_eq!(listed[1].kind, None);
    assert_eq!(model.activity(&ActivityQuery { limit: 10, ..Default::default() }).await.unwrap().len(), 3);
    assert_eq!(model.as_of().await.unwrap(), as_of, "a location's events do not move asOf");
    model.rebuild(&[location("van", "Van", false, 3)]).await.unwrap();
    let rebuilt = model.locations().await.unwrap();
    assert_eq!(rebuilt.len(), 1);
    assert_eq!((rebuilt[0].location.as_str(), rebuilt[0].retired), ("van", false), "a rebuild replays definitions");
}

/// `count` events over a third as many instants (so instants are shared and only the event id orders them), at
/// three locations and forty skus, every fifth a removal.
fn history(count: u32) -> Vec<Event> {
    (0..count)
        .map(|i| {
            let sku = format!("item-{}", i % 40);
            let Event::Stock(mut e) = stock(&format!("store-{}", i % 3), &sku, u64::from(i / 120 + 1), 1, i / 3) else {
                unreachable!()
            };
            if i % 5 == 0 {
                e.kind = EventKind::StockRemoved;
            }
            Event::Stock(e)
        })
        .collect()
}

async fn apply_in_batches(model: &Arc<dyn ReadModel>, events: &[Event]) {
    for chunk in events.chunks(500) {
        model.apply_batch(chunk).await.unwrap();
    }
}

/// The log's order: newest first, then by event id (descending), as both adapters sort it.
fn newest_first(events: &[Event]) -> Vec<Event> {
    let mut sorted = events.to_vec();
    sorted.sort_by_key(|e| std::cmp::Reverse((e.recorded_at(), e.id().to_string())));
    sorted
}

/// Every page of `query`, continuing from each page's last event, until a short page.
async fn walk(model: &Arc<dyn ReadModel>, query: ActivityQuery) -> Vec<Event> {
    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let page = model.activity(&ActivityQuery { before, ..query.clone() }).await.unwrap();
        assert!(page.len() <= query.limit);
        seen.extend(page.iter().cloned());
        if page.len() < query.limit {
            return seen;
        }
        before = page.last().map(ActivityPosition::of);
    }
}

pub async fn activity_pages_through_the_whole_history_each_event_once(model: Arc<dyn ReadModel>) {
    let events = history(1_200);
    apply_in_batches(&model, &events).await;
    let walked = walk(&model, ActivityQuery { limit: 7, ..Default::default() }).await;
    assert_eq!(walked.len(), 1_200, "past the newest 500: the whole history");
    assert_eq!(walked, newest_first(&events), "every event once, newest first, shared instants by event id");

    // Events appended during a walk are newer than where it stands: the walk still sees each older one once.
    let mut seen = Vec::new();
    let mut before = None;
    for round in 0..30u32 {
        let page = model.activity(&ActivityQuery { before, limit: 50, ..Default::default() }).await.unwrap();
        seen.extend(page.iter().map(Event::id));
        if page.len() < 50 {
            break;
        }
        before = page.last().map(ActivityPosition::of);
        model.apply(&stock("store-9", "late-item", u64::from(round) + 1, 1, 3_000 + round)).await.unwrap();
    }
    let expected: Vec<_> = newest_first(&events).iter().map(Event::id).collect();
    assert_eq!(seen, expected, "appends while paging change no page after the first");
}

/// location, sku, type, from, to.
type Filters<'a> = (Option<&'a str>, Option<&'a str>, Option<EventKind>, Option<Timestamp>, Option<Timestamp>);

pub async fn activity_filters_combine_and_page(model: Arc<dyn ReadModel>) {
    let events = history(600);
    apply_in_batches(&model, &events).await;
    let at =
        |seconds: u32| Timestamp::parse(&format!("2026-01-15T10:{:02}:{:02}Z", seconds / 60, seconds % 60)).unwrap();
    let matches = |e: &Event,
                   location: Option<&str>,
                   sku: Option<&str>,
                   kind: Option<EventKind>,
                   from: Option<Timestamp>,
                   to: Option<Timestamp>| {
        let Event::Stock(s) = e else { return false };
        location.is_none_or(|l| s.item.location.as_str() == l)
            && sku.is_none_or(|k| s.item.sku.as_str() == k)
            && kind.is_none_or(|k| s.kind == k)
            && from.is_none_or(|f| s.recorded_at >= f)
            && to.is_none_or(|t| s.recorded_at < t)
    };
    let cases: [Filters; 6] = [
        (Some("store-1"), Some("item-1"), None, None, None),
        (None, None, Some(EventKind::StockRemoved), None, None),
        (None, None, None, Some(at(30)), Some(at(90))),
        (Some("store-2"), None, Some(EventKind::StockReceived), Some(at(10)), None),
        (None, Some("item-7"), Some(EventKind::StockRemoved), None, Some(at(150))),
        (Some("store-1"), Some("item-2"), None, None, None),
    ];
    for (location, sku, kind, from, to) in cases {
        let query = ActivityQuery {
            location: location.map(|l| LocationId::parse(l).unwrap()),
            sku: sku.map(|s| Sku::parse(s).unwrap()),
            kinds: kind.into_iter().collect(),
            from,
            to,
            limit: 4,
            before: None,
        };
        let expected: Vec<Event> =
            newest_first(&events).into_iter().filter(|e| matches(e, location, sku, kind, from, to)).collect();
        let walked = walk(&model, query).await;
        assert!(!walked.is_empty() || expected.is_empty());
        assert_eq!(walked, expected, "{location:?} {sku:?} {kind:?} {from:?} {to:?}");
    }
    let item_1 = events.iter().filter(|e| matches(e, Some("store-1"), Some("item-1"), None, None, None)).count();
    assert!(item_1 > 4, "one item's history spans pages ({item_1} events)");
    let both = ActivityQuery {
        kinds: vec![EventKind::StockRemoved, EventKind::StockReceived],
        limit: 1_000,
        ..Default::default()
    };
    assert_eq!(model.activity(&both).await.unwrap().len(), 600, "several types: any of them");
    let one_instant = ActivityQuery { from: Some(at(90)), to: Some(at(91)), limit: 10, ..Default::default() };
    assert_eq!(model.activity(&one_instant).await.unwrap().len(), 3, "from inclusive, to exclusive: one instant");
}

macro_rules! read_model_contract {
    ($adapter:ident, $make:expr) => {
        mod $adapter {
            use super::*;
            read_model_contract!(@cases $make; a_newer_version_applies_and_an_older_or_equal_one_is_stale,
                products_name_items_and_set_low_stock, inventory_filters_sorts_and_pages,
                search_matches_words_of_names_and_skus, the_summary_totals_products_and_locations,
                activity_is_newest_first_once_per_event, an_overtaken_event_is_logged_once_though_stale,
                activity_keeps_who_sent_each_command,
                an_empty_read_model_answers_empty,
                a_rebuild_replaces_the_read_model_with_the_replayed_events,
                a_batch_applies_in_order_with_an_outcome_per_event,
                a_transfer_is_in_transit_until_its_second_half_in_any_order,
                locations_list_definitions_and_locations_holding_items,
                activity_pages_through_the_whole_history_each_event_once, activity_filters_combine_and_page);
        }
    };
    (@cases $make:expr; $($case:ident),*) => {
        $(
            #[tokio::test]
            async fn $case() {
                #[allow(unused_variables)]
                let Some((model, guard)) = ($make) else { return };
                super::$case(model).await;
            }
        )*
    };
}

read_model_contract!(sqlite, {
    let (model, dir) = crate::support::sqlite_read_model();
    Some((model as Arc<dyn ReadModel>, Some(dir)))
});
read_model_contract!(elasticsearch, {
    crate::support::elastic_read_model().await.map(|m| (m as Arc<dyn ReadModel>, None::<tempfile::TempDir>))
});
