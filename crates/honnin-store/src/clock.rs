//! Time as a value services are given, so tests can fix it.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// A source of the current time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> jiff::Timestamp;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> jiff::Timestamp {
        jiff::Timestamp::now()
    }
}

/// A clock that stands still until told to move; for tests.
#[derive(Debug, Clone)]
pub struct FixedClock(Arc<AtomicI64>);

impl FixedClock {
    pub fn new(at: jiff::Timestamp) -> Self {
        FixedClock(Arc::new(AtomicI64::new(at.as_microsecond())))
    }

    pub fn set(&self, at: jiff::Timestamp) {
        self.0.store(at.as_microsecond(), Ordering::SeqCst);
    }

    pub fn advance(&self, by: jiff::SignedDuration) {
        let micros = i64::try_from(by.as_micros()).unwrap_or(i64::MAX);
        self.0.fetch_add(micros, Ordering::SeqCst);
    }
}

impl Clock for FixedClock {
    fn now(&self) -> jiff::Timestamp {
        jiff::Timestamp::from_microsecond(self.0.load(Ordering::SeqCst))
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
    }
}

/// Microseconds since the epoch, the stored form of every instant.
pub fn micros(t: jiff::Timestamp) -> i64 {
    t.as_microsecond()
}

/// The inverse of [`micros`]; out-of-range values clamp to the epoch.
pub fn from_micros(us: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_microsecond(us).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}
