//! The application: the use cases, over the ports only. Executing a command exactly once (`commands`), the transfer
//! saga (`transfers`), the location check under `PIESHOP_UNKNOWN_LOCATIONS=refuse` (`location_check`), publishing
//! what was committed (`dispatch`) and sweeping what was not (`relay`), projecting events (`projection`), answering
//! queries through the cache with one read per missed answer (`queries`, `single_flight`), exporting listings as
//! CSV page by page (`export`), the operator's reconciliation and rebuild (`operator`), and replaying what Event
//! Grid dead-lettered (`deadletters`). Nothing here knows HTTP, the Functions host or an adapter.

pub mod changes;
pub mod commands;
pub mod deadletters;
pub mod dispatch;
pub mod export;
pub mod group_apply;
pub mod health;
pub mod location_check;
pub mod operator;
pub mod projection;
pub mod push_changes;
pub mod queries;
pub mod relay;
pub mod single_flight;
pub mod stream_turns;
pub mod transfers;
