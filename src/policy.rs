//! Timeouts and how often a session's last-seen time is written.

use crate::ConfigError;

const SECOND: u64 = 1_000;
const MINUTE: u64 = 60 * SECOND;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;

/// Longest absolute lifetime: browsers cap cookie lifetimes at 400 days.
pub const MAX_ABSOLUTE_MS: u64 = 400 * DAY;

/// Session timing, all in milliseconds.
///
/// ```
/// use edge_session::Policy;
/// let p = Policy::default();
/// assert_eq!((p.envelope_ttl_ms, p.idle_timeout_ms, p.absolute_timeout_ms), (60_000, 1_800_000, 43_200_000));
/// assert!(Policy::new(60_000, 30_000, 43_200_000).is_err()); // idle shorter than the envelope
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// How long a signed envelope is honoured without reading the record (default 60 s). This is
    /// the bound on how long a revoked session's cookie keeps working on other isolates.
    pub envelope_ttl_ms: u64,
    /// How long a session lives without a refresh (default 30 min).
    pub idle_timeout_ms: u64,
    /// How long a session lives at most, from login (default 12 h). Never extended.
    pub absolute_timeout_ms: u64,
    /// A refresh that signs a new envelope writes the session's last-seen key (`t:`) only when
    /// it falls in a later interval of this length (counted from the epoch) than the envelope it
    /// replaces, so at most once per interval (default idle / 10), to respect KV's one write per
    /// second per key and its write costs.
    pub touch_interval_ms: u64,
    /// How far in the future an envelope's `issued_at` may be before it is refused (default 5 s).
    pub clock_skew_ms: u64,
    /// Read the record on every request, even with a fresh envelope.
    pub strict: bool,
    /// How late a record's write may land after its envelope was signed (the host's store
    /// deadline for a read and a write; default 10 s): widens the window in which an absent
    /// record counts as "not visible here yet" rather than gone.
    pub write_grace_ms: u64,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            envelope_ttl_ms: MINUTE,
            idle_timeout_ms: 30 * MINUTE,
            absolute_timeout_ms: 12 * HOUR,
            touch_interval_ms: 3 * MINUTE,
            clock_skew_ms: 5 * SECOND,
            strict: false,
            write_grace_ms: 10 * SECOND,
        }
    }
}

impl Policy {
    /// A policy with these timeouts and the derived defaults for the rest, checked.
    pub fn new(
        envelope_ttl_ms: u64,
        idle_timeout_ms: u64,
        absolute_timeout_ms: u64,
    ) -> Result<Self, ConfigError> {
        let policy = Self {
            envelope_ttl_ms,
            idle_timeout_ms,
            absolute_timeout_ms,
            touch_interval_ms: idle_timeout_ms / 10,
            ..Self::default()
        };
        policy.check()?;
        Ok(policy)
    }

    /// Checks the invariants: 1 s <= envelope < idle <= absolute <= 400 days, touch < idle,
    /// clock skew <= 60 s, write grace <= 120 s.
    pub fn check(&self) -> Result<(), ConfigError> {
        if self.envelope_ttl_ms < SECOND {
            return Err(ConfigError::InvalidTimeouts(
                "envelope lifetime must be at least 1 second",
            ));
        }
        if self.envelope_ttl_ms >= self.idle_timeout_ms {
            return Err(ConfigError::InvalidTimeouts(
                "envelope lifetime must be shorter than the idle timeout",
            ));
        }
        if self.idle_timeout_ms > self.absolute_timeout_ms {
            return Err(ConfigError::InvalidTimeouts(
                "idle timeout must not exceed the absolute lifetime",
            ));
        }
        if self.absolute_timeout_ms > MAX_ABSOLUTE_MS {
            return Err(ConfigError::InvalidTimeouts(
                "absolute lifetime must not exceed 400 days",
            ));
        }
        if self.touch_interval_ms >= self.idle_timeout_ms {
            return Err(ConfigError::InvalidTimeouts(
                "touch interval must be shorter than the idle timeout",
            ));
        }
        if self.write_grace_ms > 2 * MINUTE {
            return Err(ConfigError::InvalidTimeouts(
                "write grace must not exceed 120 seconds",
            ));
        }
        if self.clock_skew_ms > MINUTE {
            return Err(ConfigError::InvalidTimeouts(
                "clock skew allowance must not exceed 60 seconds",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_orders_are_enforced() {
        assert_eq!(Policy::default().check(), Ok(()));
        assert_eq!(
            Policy::new(60_000, 1_800_000, 43_200_000),
            Ok(Policy::default())
        );
        assert!(Policy::new(999, 10_000, 20_000).is_err());
        assert!(Policy::new(10_000, 10_000, 20_000).is_err());
        assert!(Policy::new(1_000, 30_000, 20_000).is_err());
        assert!(Policy::new(1_000, 3_000, 401 * DAY).is_err());
        assert!(Policy::new(1_000, 3_000, 3_000).is_ok());
        let p = Policy {
            clock_skew_ms: 2 * MINUTE,
            ..Policy::default()
        };
        assert!(p.check().is_err());
    }
}
