//! edge-session: login sessions for edge functions, as pure decisions.
//!
//! A session is a random 256-bit [`SessionId`], a server-side [`Record`] in edge KV stored under
//! the ID's SHA-256 ([`SessionHandle`]), and a short-lived HMAC-SHA256 signed cookie envelope
//! pointing at it. The [`Engine`] does no I/O and reads no clock: the host passes `now` (unix ms)
//! and the Cookie header in, and gets back a [`Decision`] plus the store [`Effects`] to apply.
//!
//! ```
//! use edge_session::{CookieConfig, Decision, Engine, Fetched, KeyRing, Policy, SessionData};
//!
//! // Each secret is the base64url encoding of 32 random bytes.
//! let ring = KeyRing::parse("k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY")?;
//! let mut engine = Engine::new(ring, Policy::default(), CookieConfig::default())?;
//! let t0 = 1_700_000_000_000;
//! let data = SessionData::new(r#"{"role":"admin"}"#)?;
//! let login = engine.issue("alice", None, Some(data), t0)?;
//! // The host writes login.effects to KV (each value as its JSON text) and sends
//! // login.set_cookie.
//! let record = &login.effects.puts[0];
//! let stored = record.value.to_json();
//! let cookie = login.set_cookie.split(';').next().unwrap_or_default();
//!
//! // Within the envelope's lifetime: valid with no store read.
//! let Decision::Valid(session) = engine.validate(Some(cookie), t0 + 30_000) else {
//!     panic!("expected Valid")
//! };
//! assert_eq!(session.data.as_deref(), Some(r#"{"role":"admin"}"#));
//!
//! // After it: authentic but expired, so the host reads the record, the login's tombstone
//! // and the revocation cutoffs (in parallel) and resumes.
//! let Decision::NeedRecord(pending) = engine.validate(Some(cookie), t0 + 90_000) else {
//!     panic!("expected NeedRecord")
//! };
//! let [record_key, _lineage, _user_cutoff, _global_cutoff, _others_cutoff] = pending.reads();
//! assert_eq!(record_key, record.key);
//! let fetched = Fetched::from_reads([Some(stored.as_str()), None, None, None, None]);
//! let refreshed = engine.resume(&pending, &fetched, t0 + 90_000);
//! assert!(refreshed.is_ok_and(|r| r.set_cookie.is_some()));
//! # Ok::<(), edge_session::ConfigError>(())
//! ```

#![cfg_attr(target_arch = "wasm32", no_std)]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

extern crate alloc;

mod b64;
mod cookie;
mod engine;
pub mod envelope;
mod error;
mod hub;
mod id;
pub mod inspect;
#[cfg(any(feature = "wasm", feature = "wasm-inspect"))]
mod js;
// In wasm the CSPRNG, the allocator and the panic handler come from the JS bindings (src/js.rs).
#[cfg(all(
    target_arch = "wasm32",
    not(any(feature = "wasm", feature = "wasm-inspect"))
))]
compile_error!("build edge-session for wasm32 with feature `wasm` (the npm package's module)");
mod json;
mod keys;
mod options;
mod policy;
mod record;
mod revocation;
mod sha256;
#[cfg(feature = "wasm")]
mod wasm;
#[cfg(feature = "wasm-inspect")]
mod wasm_inspect;

// The public interface.
pub use cookie::{find_cookie, find_cookie_octets, CookieConfig, SameSite, MAX_COOKIE_HEADER_LEN};
pub use engine::{
    Checked, DataChange, Decision, Effects, Engine, Fetched, Issued, Pending, Put, Refreshed,
    Rotation, Session, SessionData, SessionInfo, KV_PROPAGATION_MS,
};
pub use error::{ConfigError, RejectReason};
pub use hub::{HubEntry, HubPage, HubRevocation, HubState, HUB_MISSED_INTERVALS, HUB_PAGE};
pub use id::{
    lineage_prefix, others_cutoff_key, touch_prefix, user_cutoff_key, user_index_prefix, Lineage,
    SessionHandle, SessionId, GLOBAL_CUTOFF_KEY, HANDLE_LEN, LINEAGE_LEN, SESSION_ID_LEN,
};
pub use keys::{KeyRing, Signer, MIN_SECRET_LEN, TAG_LEN};
pub use options::{Options, Settings, Timeouts};
pub use policy::Policy;
pub use record::{
    Cutoff, Ended, IndexEntry, Record, RecordState, Source, Tombstone, Touch, Value, MAX_DATA_LEN,
    MIN_KV_TTL_SECS, STORE_VERSION,
};
pub use revocation::Revocations;

/// Base64url without padding, strict and canonical, as used for envelopes and handles.
pub mod base64url {
    pub use crate::b64::{decode, encode};
}
