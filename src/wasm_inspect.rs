//! The operator CLI's binding (feature `wasm-inspect`): `inspectEnvelope`, built into a module of
//! its own (`edge_session_inspect_bg.wasm`) that only `edge-session inspect` loads. The module a
//! Worker, Node or a browser instantiates for sessions (feature `wasm`) leaves it out: a report's
//! field-by-field diagnosis was a fifth of that module's size, and no request path needs it.

use alloc::{borrow::ToOwned, string::String};

use wasm_bindgen::prelude::*;

use crate::js::{config_error, json_parse};
use crate::{CookieConfig, KeyRing};

/// Reports on a cookie value, `Set-Cookie` line or `Cookie` header without trusting it (see
/// `edge_session::inspect`): `{ cookieName, found, length, envelope, problem, verified }`. With
/// `keys` (a `SESSION_KEYS` spec) it verifies the envelope for `cookieName` (default
/// `__Host-session`) and says why not. Throws a `SessionConfigError` for bad keys or a bad
/// cookie name. Never returns a secret or the raw session ID.
#[wasm_bindgen(js_name = inspectEnvelope)]
pub fn inspect_envelope(
    input: &str,
    keys: Option<String>,
    cookie_name: Option<String>,
) -> Result<JsValue, JsValue> {
    let ring = keys
        .as_deref()
        .map(KeyRing::parse)
        .transpose()
        .map_err(|e| config_error(&e))?;
    let name = cookie_name.unwrap_or_else(|| CookieConfig::default().name().to_owned());
    crate::inspect::inspect(input, ring.as_ref(), &name)
        .map(|report| json_parse(&report.to_json()))
        .map_err(|e| config_error(&e))
}
