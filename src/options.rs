//! The JS API's settings, as the core reads them: names, types, defaults and every check live
//! here, so the host only strips what is its own (the store, the clock, the event hook) and hands
//! the rest over as JSON text (`JSON.stringify`), read with the core's own reader.

use crate::json::{self, Json, Object, ObjectWriter};
use crate::{ConfigError, CookieConfig, Engine, KeyRing, Policy, SameSite};
use alloc::{borrow::ToOwned, string::String, vec::Vec};

/// The default cookie base name; `__Host-` is prepended unless `hostPrefix` is false.
pub const DEFAULT_COOKIE_NAME: &str = "session";

/// How long a store call may take before it counts as a failure, by default.
pub const DEFAULT_STORE_TIMEOUT_MS: u64 = 5_000;

/// The signing keys: `"id:secret,id:secret"` (first is current) or `{ current, keys: { id: secret } }`.
#[derive(Clone, Debug, PartialEq)]
enum Keys {
    Spec(String),
    Map {
        current: String,
        keys: Vec<(String, String)>,
    },
}

impl Keys {
    const EXPECTING: &'static str =
        r#"`keys` must be "id:secret,id:secret" or { current, keys: { id: secret } }"#;

    fn read(value: &Json<'_>) -> Result<Self, ConfigError> {
        if let Some(spec) = value.as_str() {
            return Ok(Self::Spec(spec.to_owned()));
        }
        let bad = || invalid(Self::EXPECTING);
        let o = value.object().ok_or_else(bad)?;
        if let Some((name, _)) = o
            .members()
            .iter()
            .find(|(name, _)| !matches!(name.as_ref(), "current" | "keys"))
        {
            return Err(invalid_owned(
                ["unknown field `", name, "` in `keys`; known: current, keys"].concat(),
            ));
        }
        let current = o.str("current").ok_or_else(bad)?.to_owned();
        let map = o
            .get("keys")
            .ok()
            .flatten()
            .and_then(Json::object)
            .ok_or_else(bad)?;
        let mut keys = Vec::new();
        for (id, secret) in map.members() {
            let secret = secret.as_str().ok_or_else(bad)?;
            keys.push((id.as_ref().to_owned(), secret.to_owned()));
        }
        Ok(Self::Map { current, keys })
    }

    fn ring(self) -> Result<KeyRing, ConfigError> {
        match self {
            Self::Spec(spec) => KeyRing::parse(&spec),
            Self::Map { current, mut keys } => {
                if !keys.iter().any(|(id, _)| *id == current) {
                    return Err(ConfigError::InvalidKeyRing("current key is not in keys"));
                }
                // The current key first, then the others by id (insertion sort: a ring is short).
                let mut ordered: Vec<(String, String)> = Vec::with_capacity(keys.len());
                if let Some(at) = keys.iter().position(|(id, _)| *id == current) {
                    ordered.push(keys.remove(at));
                }
                for key in keys {
                    let at = ordered
                        .iter()
                        .skip(1)
                        .position(|(id, _)| *id > key.0)
                        .map_or(ordered.len(), |i| i + 1);
                    ordered.insert(at, key);
                }
                if ordered
                    .iter()
                    .any(|(_, s)| s.contains(',') || s.contains(':'))
                {
                    return Err(ConfigError::InvalidKeyRing("secrets are base64url text"));
                }
                let mut spec = String::new();
                for (i, (id, secret)) in ordered.iter().enumerate() {
                    if i > 0 {
                        spec.push(',');
                    }
                    spec.push_str(id);
                    spec.push(':');
                    spec.push_str(secret);
                }
                KeyRing::parse(&spec)
            }
        }
    }
}

/// Cookie settings (`cookie` option).
#[derive(Clone, Debug, Default)]
struct CookieOptions {
    name: Option<String>,
    host_prefix: Option<bool>,
    same_site: Option<String>,
    domain: Option<String>,
    path: Option<String>,
    secure: Option<bool>,
}

/// The `SessionManager` options the core owns (all but `store`, `now` and `onEvent`). Times are
/// in seconds, as Workers developers write them in `wrangler.toml`.
#[derive(Debug)]
pub struct Options {
    keys: Option<Keys>,
    envelope_ttl: Option<f64>,
    idle_timeout: Option<f64>,
    absolute_timeout: Option<f64>,
    cookie: Option<CookieOptions>,
    strict: Option<bool>,
    store_timeout_ms: Option<f64>,
    /// Set by the host when a revocation hub binding was given (the binding itself stays there).
    hub: Option<bool>,
    hub_poll_interval: Option<f64>,
}

/// Every option name the core reads, for refusing the rest.
pub const OPTION_NAMES: &[&str] = &[
    "keys",
    "envelopeTtl",
    "idleTimeout",
    "absoluteTimeout",
    "cookie",
    "strict",
    "storeTimeoutMs",
    "hub",
    "hubPollInterval",
    "revocationSyncMs",
];

/// How often an isolate pulls the revocation hub, by default (seconds).
pub const DEFAULT_HUB_POLL_INTERVAL_S: f64 = 5.0;

/// Every `cookie` option name.
pub const COOKIE_OPTION_NAMES: &[&str] =
    &["name", "hostPrefix", "sameSite", "domain", "path", "secure"];

/// Refuses option names the core does not know (a typo such as `envelopeTTL` must not silently
/// fall back to a default). `cookie` holds the names inside the `cookie` option.
pub fn check_names<'a>(
    top: impl IntoIterator<Item = &'a str>,
    cookie: impl IntoIterator<Item = &'a str>,
) -> Result<(), ConfigError> {
    let unknown = |name: &str, known: &[&str], what: &str| {
        invalid_owned(
            [
                "unknown ",
                what,
                " `",
                name,
                "`; known: ",
                &known.join(", "),
            ]
            .concat(),
        )
    };
    if let Some(name) = top.into_iter().find(|n| !OPTION_NAMES.contains(n)) {
        return Err(unknown(name, OPTION_NAMES, "option"));
    }
    if let Some(name) = cookie
        .into_iter()
        .find(|n| !COOKIE_OPTION_NAMES.contains(n))
    {
        return Err(unknown(name, COOKIE_OPTION_NAMES, "cookie option"));
    }
    Ok(())
}

fn invalid(why: &str) -> ConfigError {
    ConfigError::InvalidOption(why.to_owned())
}

fn invalid_owned(why: String) -> ConfigError {
    ConfigError::InvalidOption(why)
}

/// What the host needs from the options besides the engine.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(
    not(target_arch = "wasm32"),
    derive(serde::Serialize),
    serde(rename_all = "camelCase")
)]
pub struct Settings {
    /// The cookie's full name.
    pub cookie_name: String,
    /// Store call deadline in ms.
    pub store_timeout_ms: u64,
    /// The key ids, current first (never a secret).
    pub key_ids: Vec<String>,
    /// The timeouts in force, in seconds.
    pub timeouts: Timeouts,
    /// The revocation hub's poll interval in force, in seconds; `None` without a hub.
    pub hub_poll_interval: Option<f64>,
    /// The poll interval in ms (what [`hub_poll_interval`](Self::hub_poll_interval) states).
    #[cfg_attr(not(target_arch = "wasm32"), serde(skip))]
    hub_poll_interval_ms: Option<u64>,
    /// The timeouts in ms (what [`timeouts`](Self::timeouts) states).
    #[cfg_attr(not(target_arch = "wasm32"), serde(skip))]
    timeouts_ms: [u64; 3],
}

impl Settings {
    /// `{ cookieName, storeTimeoutMs, keyIds, timeouts: { envelopeTtl, idleTimeout,
    /// absoluteTimeout }, hubPollInterval }` as JSON text, seconds written from whole ms.
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        let mut o = ObjectWriter::new(&mut out);
        o.str("cookieName", &self.cookie_name)
            .u64("storeTimeoutMs", self.store_timeout_ms);
        json::push_array(o.key("keyIds"), &self.key_ids, |out, id| {
            json::push_str(out, id)
        });
        let mut t = ObjectWriter::new(o.key("timeouts"));
        let [envelope_ttl, idle_timeout, absolute_timeout] = self.timeouts_ms;
        json::push_seconds(t.key("envelopeTtl"), envelope_ttl);
        json::push_seconds(t.key("idleTimeout"), idle_timeout);
        json::push_seconds(t.key("absoluteTimeout"), absolute_timeout);
        t.end();
        match self.hub_poll_interval_ms {
            Some(ms) => json::push_seconds(o.key("hubPollInterval"), ms),
            None => {
                o.raw("hubPollInterval", "null");
            }
        }
        o.end();
        out
    }
}

/// The timeouts in force, in seconds (for operators' status pages).
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(
    not(target_arch = "wasm32"),
    derive(serde::Serialize),
    serde(rename_all = "camelCase")
)]
pub struct Timeouts {
    /// Envelope lifetime.
    pub envelope_ttl: f64,
    /// Idle timeout.
    pub idle_timeout: f64,
    /// Absolute lifetime.
    pub absolute_timeout: f64,
}

/// Seconds (positive, at most 1e10) as whole milliseconds, rounded half up. `f64::round` is
/// `std`'s, and the module builds without it; below 2^53 the fraction is exact.
fn round_ms(seconds: f64) -> u64 {
    let ms = seconds * 1000.0;
    let whole = ms as u64;
    if ms - whole as f64 >= 0.5 {
        whole + 1
    } else {
        whole
    }
}

fn millis(value: Option<f64>, name: &'static str, default: u64) -> Result<u64, ConfigError> {
    match value {
        None => Ok(default),
        Some(s) if s.is_finite() && s > 0.0 && s <= 1e10 => Ok(round_ms(s)),
        Some(_) => Err(ConfigError::InvalidTimeouts(name)),
    }
}

/// Reads option `name` of `o` with `read`; absent and `null` are `None`, anything `read`
/// refuses is an `invalid_options` error saying what `name` must be.
fn option<'j, 'a, T>(
    o: &Object<'j, 'a>,
    name: &str,
    expecting: &str,
    read: impl FnOnce(&'j Json<'a>) -> Option<T>,
) -> Result<Option<T>, ConfigError> {
    o.opt(name, read)
        .map_err(|_| invalid_owned(["`", name, "` must be ", expecting].concat()))
}

const SECONDS: &str = "a positive number of seconds";

/// A duration in seconds: a number, or a numeric string (environment variables).
fn seconds(value: &Json<'_>) -> Option<f64> {
    match value {
        Json::Num(text) => json::decimal(text),
        Json::Str(text) => json::decimal(text.trim()),
        _ => None,
    }
}

fn number(value: &Json<'_>) -> Option<f64> {
    match value {
        Json::Num(text) => json::decimal(text),
        _ => None,
    }
}

fn string(value: &Json<'_>) -> Option<String> {
    value.as_str().map(str::to_owned)
}

impl CookieOptions {
    fn read(o: &Object<'_, '_>) -> Result<Self, ConfigError> {
        Ok(Self {
            name: option(o, "name", "a string", string)?,
            host_prefix: option(o, "hostPrefix", "a boolean", Json::as_bool)?,
            same_site: option(o, "sameSite", "a string", string)?,
            domain: option(o, "domain", "a string", string)?,
            path: option(o, "path", "a string", string)?,
            secure: option(o, "secure", "a boolean", Json::as_bool)?,
        })
    }
}

impl Options {
    /// Reads options from their JSON text (`JSON.stringify` of the JS options less the host's
    /// own): unknown names are refused first, then wrong types.
    pub fn from_json(text: &str) -> Result<Self, ConfigError> {
        let value = json::parse(text).ok_or_else(|| invalid("options are not JSON text"))?;
        let o = value
            .object()
            .ok_or_else(|| invalid("options must be an object"))?;
        let cookie = o.get("cookie").ok().flatten().and_then(Json::object);
        check_names(
            o.members().iter().map(|(name, _)| name.as_ref()),
            cookie
                .iter()
                .flat_map(|c| c.members())
                .map(|(name, _)| name.as_ref()),
        )?;
        let keys = match o.get("keys") {
            Ok(None) => None,
            Ok(Some(value)) => Some(Keys::read(value)?),
            Err(_) => return Err(invalid(Keys::EXPECTING)),
        };
        let cookie = match option(&o, "cookie", "an object", Json::object)? {
            Some(c) => Some(CookieOptions::read(&c)?),
            None => None,
        };
        // Accepted for compatibility (the global cutoff is now read on every refresh), but
        // still a number.
        option(&o, "revocationSyncMs", "a number", number)?;
        Ok(Self {
            keys,
            envelope_ttl: option(&o, "envelopeTtl", SECONDS, seconds)?,
            idle_timeout: option(&o, "idleTimeout", SECONDS, seconds)?,
            absolute_timeout: option(&o, "absoluteTimeout", SECONDS, seconds)?,
            cookie,
            strict: option(&o, "strict", "a boolean", Json::as_bool)?,
            store_timeout_ms: option(&o, "storeTimeoutMs", "a number", number)?,
            hub: option(&o, "hub", "a boolean", Json::as_bool)?,
            hub_poll_interval: option(&o, "hubPollInterval", SECONDS, seconds)?,
        })
    }

    /// Checks everything and builds the engine.
    pub fn build(self) -> Result<(Engine, Settings), ConfigError> {
        let ring = self
            .keys
            .ok_or(ConfigError::InvalidKeyRing(
                r#"keys is required: "id:secret" with a base64url secret of 32 random bytes"#,
            ))?
            .ring()?;
        let defaults = Policy::default();
        let mut policy = Policy::new(
            millis(
                self.envelope_ttl,
                "envelopeTtl must be a positive number of seconds",
                defaults.envelope_ttl_ms,
            )?,
            millis(
                self.idle_timeout,
                "idleTimeout must be a positive number of seconds",
                defaults.idle_timeout_ms,
            )?,
            millis(
                self.absolute_timeout,
                "absoluteTimeout must be a positive number of seconds",
                defaults.absolute_timeout_ms,
            )?,
        )?;
        policy.strict = self.strict.unwrap_or(false);
        let store_timeout_ms = match self.store_timeout_ms {
            None => DEFAULT_STORE_TIMEOUT_MS,
            Some(ms) if (1.0..=60_000.0).contains(&ms) => ms as u64,
            Some(_) => return Err(invalid("storeTimeoutMs must be between 1 and 60000")),
        };
        // A record's write may land up to a read and a write after its envelope was signed.
        policy.write_grace_ms = store_timeout_ms.saturating_mul(2);
        let c = self.cookie.unwrap_or_default();
        let base = c.name.as_deref().unwrap_or(DEFAULT_COOKIE_NAME);
        let name = if c.host_prefix.unwrap_or(true) {
            ["__Host-", base].concat()
        } else {
            base.to_owned()
        };
        let same_site = match c.same_site.as_deref() {
            Some(s) => SameSite::parse(s)?,
            None => SameSite::Lax,
        };
        let cookie = CookieConfig::new(
            &name,
            c.secure.unwrap_or(true),
            same_site,
            c.path.as_deref().unwrap_or("/"),
            c.domain.as_deref(),
        )?;
        let mut engine = Engine::new(ring, policy, cookie)?;
        let hub_poll_interval_ms =
            match (self.hub.unwrap_or(false), self.hub_poll_interval) {
                (false, None) => None,
                (false, Some(_)) => return Err(invalid(
                    "hubPollInterval needs hub (a RevocationHub Durable Object namespace binding)",
                )),
                (true, interval) => {
                    let s = interval.unwrap_or(DEFAULT_HUB_POLL_INTERVAL_S);
                    if !(0.1..=300.0).contains(&s) {
                        return Err(invalid(
                            "hubPollInterval must be between 0.1 and 300 seconds",
                        ));
                    }
                    let ms = round_ms(s);
                    engine.follow_hub(ms);
                    Some(ms)
                }
            };
        let p = engine.policy();
        let timeouts_ms = [p.envelope_ttl_ms, p.idle_timeout_ms, p.absolute_timeout_ms];
        let secs = |ms: u64| ms as f64 / 1000.0;
        let settings = Settings {
            cookie_name: engine.cookie().name().to_owned(),
            store_timeout_ms,
            key_ids: engine.ring().ids().map(str::to_owned).collect(),
            timeouts: Timeouts {
                envelope_ttl: secs(p.envelope_ttl_ms),
                idle_timeout: secs(p.idle_timeout_ms),
                absolute_timeout: secs(p.absolute_timeout_ms),
            },
            hub_poll_interval: hub_poll_interval_ms.map(secs),
            hub_poll_interval_ms,
            timeouts_ms,
        };
        Ok((engine, settings))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY";

    /// `round_ms` (written for a build without `std`) rounds as `f64::round` does.
    #[test]
    fn round_ms_matches_std_rounding() {
        let mut cases = vec![
            0.0005, 0.0015, 0.0025, 0.1, 0.1005, 1.0, 59.9995, 300.0, 1e10,
        ];
        let mut x = 0.000_1_f64;
        while x < 1e10 {
            cases.extend([x, x * 1.000_000_1, x + 0.000_5]);
            x *= 1.37;
        }
        for s in cases {
            assert_eq!(round_ms(s), (s * 1000.0).round() as u64, "{s}");
        }
    }

    fn build(json: &str) -> Result<Settings, ConfigError> {
        Options::from_json(json)?.build().map(|(_, s)| s)
    }

    #[test]
    fn defaults_and_forms() {
        let s = build(&format!(r#"{{"keys":"k1:{KEY}"}}"#)).unwrap();
        assert_eq!(s.cookie_name, "__Host-session");
        assert_eq!(s.store_timeout_ms, 5_000);
        assert_eq!(s.key_ids, ["k1"]);
        assert_eq!(
            s.timeouts,
            Timeouts {
                envelope_ttl: 60.0,
                idle_timeout: 1800.0,
                absolute_timeout: 43200.0
            }
        );
        let s = build(&format!(
            r#"{{"keys":{{"current":"k2","keys":{{"k1":"{KEY}","k2":"{KEY}"}}}},"envelopeTtl":"30","cookie":{{"name":"sid","hostPrefix":false,"secure":false}}}}"#
        ))
        .unwrap();
        assert_eq!(s.cookie_name, "sid");
        let (engine, _) = Options::from_json(&format!(
            r#"{{"keys":{{"current":"k2","keys":{{"k1":"{KEY}","k2":"{KEY}"}}}},"envelopeTtl":30.5}}"#
        ))
        .unwrap()
        .build()
        .unwrap();
        assert_eq!(engine.ring().current_id(), "k2");
        assert_eq!(engine.policy().envelope_ttl_ms, 30_500);
        assert!(engine.hub().is_none());
        let (engine, s) = Options::from_json(&format!(
            r#"{{"keys":"k1:{KEY}","hub":true,"hubPollInterval":"2.5"}}"#
        ))
        .unwrap()
        .build()
        .unwrap();
        assert_eq!(s.hub_poll_interval, Some(2.5));
        assert_eq!(engine.hub().map(|h| h.interval_ms()), Some(2_500));
        let s = build(&format!(r#"{{"keys":"k1:{KEY}","hub":true}}"#)).unwrap();
        assert_eq!(s.hub_poll_interval, Some(5.0));
    }

    #[test]
    fn settings_json_is_what_serde_writes() {
        for json in [
            format!(r#"{{"keys":"k1:{KEY}"}}"#),
            format!(
                r#"{{"keys":{{"current":"k2","keys":{{"k3":"{KEY}","k1":"{KEY}","k2":"{KEY}"}}}},"envelopeTtl":30.5,"idleTimeout":"600.25","hub":true,"hubPollInterval":0.25}}"#
            ),
        ] {
            let s = build(&json).unwrap();
            assert_eq!(
                crate::json::as_js(&s.to_json()),
                crate::json::as_js(&serde_json::to_string(&s).unwrap()),
                "{json}"
            );
        }
        // Previous keys follow the current one in id order.
        let s = build(&format!(
            r#"{{"keys":{{"current":"k2","keys":{{"k3":"{KEY}","k1":"{KEY}","k2":"{KEY}"}}}}}}"#
        ))
        .unwrap();
        assert_eq!(s.key_ids, ["k2", "k1", "k3"]);
    }

    #[test]
    fn unknown_names_are_refused() {
        assert_eq!(check_names(["keys", "strict"], ["path"]), Ok(()));
        let e = check_names(["keys", "envelopeTTL"], []).unwrap_err();
        assert!(
            e.to_string().contains("unknown option `envelopeTTL`"),
            "{e}"
        );
        let e = check_names(["keys"], ["sameSite", "colour"]).unwrap_err();
        assert!(
            e.to_string().contains("unknown cookie option `colour`"),
            "{e}"
        );
    }

    #[test]
    fn refusals_say_why() {
        let unknown = build(&format!(r#"{{"keys":"k1:{KEY}","envelopeTTL":5}}"#)).unwrap_err();
        assert_eq!(unknown.code(), "invalid_options");
        assert!(unknown.to_string().contains("envelopeTTL"), "{unknown}");
        for (json, code) in [
            ("{}".to_owned(), "invalid_key_ring"),
            (r#"{"keys":42}"#.to_owned(), "invalid_options"),
            (
                format!(r#"{{"keys":"k1:{KEY}","idleTimeout":-1}}"#),
                "invalid_timeouts",
            ),
            (
                format!(r#"{{"keys":"k1:{KEY}","idleTimeout":"soon"}}"#),
                "invalid_options",
            ),
            (
                format!(r#"{{"keys":"k1:{KEY}","cookie":{{"path":"/app"}}}}"#),
                "invalid_cookie",
            ),
            (
                format!(r#"{{"keys":"k1:{KEY}","cookie":{{"colour":"red"}}}}"#),
                "invalid_options",
            ),
            (
                format!(r#"{{"keys":"k1:{KEY}","storeTimeoutMs":0}}"#),
                "invalid_options",
            ),
            (
                format!(r#"{{"keys":"k1:{KEY}","hubPollInterval":5}}"#),
                "invalid_options",
            ),
            (
                format!(r#"{{"keys":"k1:{KEY}","hub":true,"hubPollInterval":0}}"#),
                "invalid_options",
            ),
            (
                format!(r#"{{"keys":"k1:{KEY}","hub":true,"hubPollInterval":"never"}}"#),
                "invalid_options",
            ),
            (
                format!(r#"{{"keys":{{"current":"k3","keys":{{"k1":"{KEY}"}}}}}}"#),
                "invalid_key_ring",
            ),
        ] {
            assert_eq!(build(&json).map_err(|e| e.code()), Err(code), "{json}");
        }
    }
}
