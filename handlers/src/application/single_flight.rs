//! One read per cached answer at a time. When a cache generation moves on (one per grouped projection write),
//! every reader of an item misses at once; without this, each sends its own read to the read model, and a
//! read model that is already slow (Elasticsearch catching up after a stall) gets hundreds of identical reads
//! per write. Readers asking for a key that is being read wait for that read instead.
//!
//! Only for keys that name their cache generation: an answer shared between readers is then exactly as fresh
//! as one the cache would have given them. Hand-rolled over `tokio::sync::watch` (a map and a channel): the
//! crates for this share a failed read's error too, and this one must not, since a reader whose read is
//! shared should see its own error, and should not queue behind a failed read.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;

use bytes::Bytes;
use tokio::sync::watch;

/// The reads in flight, by key.
#[derive(Default)]
pub struct SingleFlight {
    flights: Mutex<HashMap<String, watch::Receiver<Option<Bytes>>>>,
}

/// Whether this caller reads, or waits for the read another caller started.
enum Role {
    Lead(watch::Sender<Option<Bytes>>),
    Follow(watch::Receiver<Option<Bytes>>),
}

impl SingleFlight {
    /// `compute`'s answer for `key`, or that of the same read already under way. A follower whose leader failed
    /// or was dropped (its client went away) reads for itself, as if it had been alone.
    pub async fn run<F, Fut, E>(&self, key: &str, compute: F) -> Result<Bytes, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Bytes, E>>,
    {
        let role = {
            let mut flights = self.flights.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            match flights.get(key) {
                Some(flight) => Role::Follow(flight.clone()),
                None => {
                    let (answer, flight) = watch::channel(None);
                    flights.insert(key.to_owned(), flight);
                    Role::Lead(answer)
                }
            }
        };
        match role {
            Role::Follow(mut flight) => {
                // The borrow of the answer ends with this statement: it must not be held across an await.
                let shared = flight.wait_for(Option::is_some).await.ok().and_then(|answer| answer.clone());
                match shared {
                    Some(body) => Ok(body),
                    None => compute().await,
                }
            }
            Role::Lead(answer) => {
                let _landing = Landing { flights: &self.flights, key };
                let result = compute().await;
                if let Ok(body) = &result {
                    answer.send_replace(Some(body.clone()));
                }
                result
            }
        }
    }

    /// How many reads are in flight (for tests).
    #[cfg(test)]
    fn in_flight(&self) -> usize {
        self.flights.lock().unwrap().len()
    }
}

/// Takes a flight off the map when its leader finishes or is dropped, so the next caller starts a fresh read.
struct Landing<'a> {
    flights: &'a Mutex<HashMap<String, watch::Receiver<Option<Bytes>>>>,
    key: &'a str,
}

impl Drop for Landing<'_> {
    fn drop(&mut self) {
        self.flights.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(self.key);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::sync::Semaphore;

    use super::*;

    /// A read that counts itself and answers once `release` gives it a permit.
    async fn read(
        reads: &AtomicUsize,
        release: &Semaphore,
        answer: Result<&'static str, &'static str>,
    ) -> Result<Bytes, String> {
        reads.fetch_add(1, Ordering::SeqCst);
        release.acquire().await.expect("never closed").forget();
        answer.map(|text| Bytes::from_static(text.as_bytes())).map_err(str::to_owned)
    }

    #[tokio::test]
    async fn readers_of_one_key_share_one_read_and_the_next_reader_reads_again() {
        let flights = Arc::new(SingleFlight::default());
        let (reads, release) = (Arc::new(AtomicUsize::new(0)), Arc::new(Semaphore::new(0)));
        let mut readers = Vec::new();
        for _ in 0..50 {
            let (flights, reads, release) = (flights.clone(), reads.clone(), release.clone());
            readers.push(tokio::spawn(async move {
                flights.run("7:item:store-1/apple-pie", || read(&reads, &release, Ok("answer"))).await
            }));
        }
        while flights.in_flight() == 0 || reads.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        for _ in 0..50 {
            tokio::task::yield_now().await; // every reader reaches the map before the read is released
        }
        release.add_permits(50); // enough for every reader, had each read for itself
        for reader in readers {
            assert_eq!(reader.await.unwrap().unwrap(), "answer");
        }
        assert_eq!(reads.load(Ordering::SeqCst), 1, "fifty readers, one read");
        assert_eq!(flights.in_flight(), 0, "the flight has landed");

        let again = flights.run("7:item:store-1/apple-pie", || read(&reads, &release, Ok("newer"))).await;
        assert_eq!(again.unwrap(), "newer");
        assert_eq!(reads.load(Ordering::SeqCst), 2, "a reader after the flight reads for itself");
    }

    type Reader = tokio::task::JoinHandle<Result<Bytes, String>>;

    /// A leader reading `k` until `release` gives it a permit, and a follower already waiting for its read (a
    /// follower that had read for itself would have finished: its own read answers at once).
    async fn leader_and_follower(
        answer: Result<&'static str, &'static str>,
    ) -> (Arc<SingleFlight>, Arc<Semaphore>, Reader, Reader) {
        let flights = Arc::new(SingleFlight::default());
        let (reads, release) = (Arc::new(AtomicUsize::new(0)), Arc::new(Semaphore::new(0)));
        let leader = {
            let (flights, reads, release) = (flights.clone(), reads.clone(), release.clone());
            tokio::spawn(async move { flights.run("k", || read(&reads, &release, answer)).await })
        };
        while flights.in_flight() == 0 {
            tokio::task::yield_now().await;
        }
        let follower = {
            let flights = flights.clone();
            tokio::spawn(async move { flights.run("k", || async { Ok(Bytes::from_static(b"own")) }).await })
        };
        tokio::task::yield_now().await;
        assert!(!follower.is_finished(), "waiting for the leader's read, not reading");
        (flights, release, leader, follower)
    }

    #[tokio::test]
    async fn a_failed_read_is_not_shared_its_followers_read_for_themselves() {
        let (flights, release, leader, follower) = leader_and_follower(Err("unavailable")).await;
        release.add_permits(1);
        assert_eq!(leader.await.unwrap().unwrap_err(), "unavailable");
        assert_eq!(follower.await.unwrap().unwrap(), "own", "the follower's own read, not the leader's error");
        assert_eq!(flights.in_flight(), 0);
    }

    #[tokio::test]
    async fn a_dropped_leader_lands_its_flight_and_its_follower_reads_for_itself() {
        let (flights, _release, leader, follower) = leader_and_follower(Ok("never")).await;
        leader.abort(); // its client went away
        assert!(leader.await.unwrap_err().is_cancelled());
        assert_eq!(follower.await.unwrap().unwrap(), "own");
        assert_eq!(flights.in_flight(), 0);
    }
}
