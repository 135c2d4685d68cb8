//! Tenants, offers, service definitions and dog-tax statutes held in memory: read on nearly every request, changed
//! rarely (by an operator or a tenant admin).
//!
//! Every transaction that changes them records a new *catalogue generation* in the database
//! ([`crate::Tx::changes_catalogue`]). The process that made the change drops its copies as soon as
//! the change commits; every other process (a CLI command beside the server, another node on
//! PostgreSQL) compares the recorded generation at most every [`RECHECK`] and drops its copies when
//! it moved. A copy read from the database while a change was committing is not kept.

use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rathaus_domain::tenant::Tenant;

use crate::db::Tx;
use crate::dogtax::StoredStatute;
use crate::services::Offer;
use crate::{StoreError, args};

/// How stale another process's change may be seen here, at most.
pub const RECHECK: Duration = Duration::from_millis(500);

/// Entries kept at most (all German municipalities fit); beyond it, everything is dropped, so that
/// requests for made-up names cannot grow the cache.
const MAX_ENTRIES: usize = 40_000;

const GENERATION_KEY: &str = "catalogue_generation";

/// Catalogue changes committed by this process. Shared by every store in the process: a change
/// to one store's database also drops another store's copies, which costs a re-read, never a
/// stale answer.
static CHANGED_HERE: AtomicU64 = AtomicU64::new(0);

pub(crate) fn changed_here() {
    CHANGED_HERE.fetch_add(1, Ordering::AcqRel);
}

/// Writes a new generation inside the changing transaction.
pub(crate) async fn bump_generation(tx: &mut Tx) -> Result<(), StoreError> {
    let now = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
    let generation = format!(
        "{}-{now}-{}",
        std::process::id(),
        CHANGED_HERE.load(Ordering::Acquire)
    );
    tx.execute(
        "INSERT INTO installation (key, value) VALUES ($1, $2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        args![GENERATION_KEY, generation],
    )
    .await?;
    Ok(())
}

#[derive(Default)]
pub(crate) struct Catalogue {
    state: RwLock<State>,
}

#[derive(Default)]
struct State {
    /// Bumped whenever the copies are dropped; a copy read before a drop is not kept.
    epoch: u64,
    changed_here_seen: u64,
    generation: Option<String>,
    checked_at: Option<Instant>,
    tenants_by_slug: HashMap<String, Tenant>,
    tenants_by_key: HashMap<String, Tenant>,
    offers: HashMap<String, Vec<Offer>>,
    dogtax_statutes: HashMap<String, Vec<StoredStatute>>,
    /// Service id and newest version of every service.
    latest_versions: Option<Vec<(String, i64)>>,
}

impl State {
    fn drop_copies(&mut self) {
        self.epoch += 1;
        self.tenants_by_slug.clear();
        self.tenants_by_key.clear();
        self.offers.clear();
        self.dogtax_statutes.clear();
        self.latest_versions = None;
    }

    fn len(&self) -> usize {
        self.tenants_by_slug.len()
            + self.tenants_by_key.len()
            + self.offers.len()
            + self.dogtax_statutes.len()
    }
}

/// What a lookup found: a copy, or the epoch to hand back with the value read from the database.
pub(crate) enum Cached<T> {
    Hit(T),
    Miss(u64),
}

impl Catalogue {
    /// Drops the copies if this process changed the catalogue since, and says whether the
    /// database's generation is due to be compared.
    fn due(&self) -> bool {
        let here = CHANGED_HERE.load(Ordering::Acquire);
        {
            let state = self.read();
            if state.changed_here_seen == here
                && state.checked_at.is_some_and(|t| t.elapsed() < RECHECK)
            {
                return false;
            }
        }
        let mut state = self.write();
        if state.changed_here_seen != here {
            state.changed_here_seen = here;
            state.drop_copies();
        }
        state.checked_at.is_none_or(|t| t.elapsed() >= RECHECK)
    }

    /// Compares the database's generation when due: one small read per [`RECHECK`].
    pub(crate) async fn refresh(&self, pool: &crate::db::Pool) -> Result<(), StoreError> {
        if !self.due() {
            return Ok(());
        }
        let row = pool
            .fetch_optional(
                "SELECT value FROM installation WHERE key = $1",
                args![GENERATION_KEY],
            )
            .await?;
        let generation = row.map(|r| r.text("value")).transpose()?;
        let mut state = self.write();
        if state.generation != generation {
            state.generation = generation;
            state.drop_copies();
        }
        state.checked_at = Some(Instant::now());
        Ok(())
    }

    pub(crate) fn tenant_by_slug(&self, slug: &str) -> Cached<Tenant> {
        let state = self.read();
        match state.tenants_by_slug.get(slug) {
            Some(t) => Cached::Hit(t.clone()),
            None => Cached::Miss(state.epoch),
        }
    }

    pub(crate) fn tenant_by_key(&self, key: &str) -> Cached<Tenant> {
        let state = self.read();
        match state.tenants_by_key.get(key) {
            Some(t) => Cached::Hit(t.clone()),
            None => Cached::Miss(state.epoch),
        }
    }

    pub(crate) fn keep_tenant(&self, epoch: u64, tenant: &Tenant) {
        self.keep(epoch, |s| {
            s.tenants_by_slug
                .insert(tenant.slug.as_str().to_owned(), tenant.clone());
            s.tenants_by_key
                .insert(tenant.key.as_str().to_owned(), tenant.clone());
        });
    }

    pub(crate) fn offers(&self, tenant_key: &str) -> Cached<Vec<Offer>> {
        let state = self.read();
        match state.offers.get(tenant_key) {
            Some(o) => Cached::Hit(o.clone()),
            None => Cached::Miss(state.epoch),
        }
    }

    pub(crate) fn keep_offers(&self, epoch: u64, tenant_key: &str, offers: &[Offer]) {
        self.keep(epoch, |s| {
            s.offers.insert(tenant_key.to_owned(), offers.to_vec());
        });
    }

    pub(crate) fn dogtax_statutes(&self, tenant_key: &str) -> Cached<Vec<StoredStatute>> {
        let state = self.read();
        match state.dogtax_statutes.get(tenant_key) {
            Some(s) => Cached::Hit(s.clone()),
            None => Cached::Miss(state.epoch),
        }
    }

    pub(crate) fn keep_dogtax_statutes(&self, epoch: u64, tenant_key: &str, s: &[StoredStatute]) {
        self.keep(epoch, |state| {
            state
                .dogtax_statutes
                .insert(tenant_key.to_owned(), s.to_vec());
        });
    }

    pub(crate) fn latest_versions(&self) -> Cached<Vec<(String, i64)>> {
        let state = self.read();
        match &state.latest_versions {
            Some(d) => Cached::Hit(d.clone()),
            None => Cached::Miss(state.epoch),
        }
    }

    pub(crate) fn keep_latest_versions(&self, epoch: u64, versions: &[(String, i64)]) {
        self.keep(epoch, |s| s.latest_versions = Some(versions.to_vec()));
    }

    fn keep(&self, epoch: u64, put: impl FnOnce(&mut State)) {
        let mut state = self.write();
        if state.epoch != epoch {
            return;
        }
        if state.len() >= MAX_ENTRIES {
            state.drop_copies();
            return;
        }
        put(&mut state);
    }

    // A panic while holding the lock leaves plain maps behind, which stay usable.
    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
