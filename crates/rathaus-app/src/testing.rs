//! Ready-made installations for tests of this and the upper crates: a fresh database of either
//! backend, migrated, with a master key, a manual clock and deterministic randomness.

use std::sync::Arc;

use rathaus_crypto::random::SeededRandom;
use rathaus_store::testing::{Backend, TempDir, fresh_url};
use time::OffsetDateTime;
use time::macros::datetime;

use crate::installation::{Schema, open};
use crate::{App, Config, ManualClock};

pub use rathaus_store::testing::Backend as TestBackend;

/// 22:00 on a Wednesday evening in November, Berlin time: the citizen on the sofa.
pub const TEST_NOW: OffsetDateTime = datetime!(2026-11-25 21:00 UTC);

pub struct TestApp {
    pub app: App,
    pub clock: Arc<ManualClock>,
    pub dir: TempDir,
}

/// A fresh installation, or `None` when the backend is not configured (PostgreSQL without
/// `RATHAUS_TEST_POSTGRES_URL`).
pub async fn test_app(backend: Backend, seed: u64) -> Option<TestApp> {
    let dir = TempDir::new().ok()?;
    let url = match fresh_url(backend, &dir).await {
        Ok(Some(u)) => u,
        Ok(None) => return None,
        Err(e) => {
            #[allow(clippy::panic)]
            {
                panic!("test database: {e}")
            }
        }
    };
    let clock = Arc::new(ManualClock::new(TEST_NOW));
    let config = Config::for_tests(dir.path(), &url);
    let app = match open(
        config,
        clock.clone(),
        Arc::new(SeededRandom::new(seed)),
        Schema::Migrate,
    )
    .await
    {
        Ok(a) => a,
        Err(e) => {
            #[allow(clippy::panic)]
            {
                panic!("test installation: {e}")
            }
        }
    };
    Some(TestApp { app, clock, dir })
}

impl TestApp {
    /// The same installation opened once more, as a restarted server opens it: the master key
    /// is read from its file again and no key is cached yet.
    pub async fn restarted(&self, seed: u64) -> App {
        match open(
            (*self.app.config).clone(),
            self.clock.clone(),
            Arc::new(SeededRandom::new(seed)),
            Schema::RequireCurrent,
        )
        .await
        {
            Ok(a) => a,
            Err(e) => {
                #[allow(clippy::panic)]
                {
                    panic!("restarting the test installation: {e}")
                }
            }
        }
    }
}

/// A fresh installation with the demo data seeded.
pub async fn demo_app(backend: Backend) -> Option<TestApp> {
    let t = test_app(backend, 1).await?;
    if let Err(e) = t.app.seed_demo().await {
        #[allow(clippy::panic)]
        {
            panic!("demo seeding: {e}")
        }
    }
    Some(t)
}

/// Replaces the recorded date of signature of a household's SEPA mandate (`None`: none
/// recorded), as a register entry taken over before the date was kept has it — the case the
/// treasury's export has to refuse rather than complete. Import and registration always record
/// the date, so tests need this door.
pub async fn set_dogtax_mandate_date(
    app: &App,
    tenant_key: &str,
    kassenzeichen: &str,
    date: Option<&str>,
) -> Result<(), crate::AppError> {
    use crate::dogtax::{HolderFacts, PaymentFacts};
    let h = app
        .store
        .dogtax_household_by_kassenzeichen(None, tenant_key, kassenzeichen)
        .await?
        .ok_or_else(|| crate::AppError::NotFound(format!("no household {kassenzeichen}")))?;
    let holder: HolderFacts = serde_json::from_value(h.holder.clone())
        .map_err(|e| crate::AppError::Internal(e.to_string()))?;
    let mut payment: PaymentFacts = serde_json::from_value(h.payment.clone())
        .map_err(|e| crate::AppError::Internal(e.to_string()))?;
    payment.mandate_date = date.map(str::to_owned);
    let payment =
        serde_json::to_value(&payment).map_err(|e| crate::AppError::Internal(e.to_string()))?;
    let index = holder.index(app.holder_index_key(tenant_key).await?.secret(), tenant_key)?;
    let mut tx = app.store.begin().await?;
    app.store
        .update_dogtax_household(
            &mut tx,
            tenant_key,
            &h.id,
            &h.payment_method,
            &h.holder,
            &index,
            &payment,
            app.now(),
        )
        .await?;
    tx.commit().await?;
    Ok(())
}
