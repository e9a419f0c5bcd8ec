//! The JS API's settings, as the core reads them: names, types, defaults and every check live
//! here, so the host only strips what is its own (the store, the clock, the event hook).

use core::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use crate::{ConfigError, CookieConfig, Engine, KeyRing, Policy, SameSite};

/// The default cookie base name; `__Host-` is prepended unless `hostPrefix` is false.
pub const DEFAULT_COOKIE_NAME: &str = "session";

/// How long a store call may take before it counts as a failure, by default.
pub const DEFAULT_STORE_TIMEOUT_MS: u64 = 5_000;

/// A duration in seconds, given as a number or a numeric string (environment variables).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Seconds(f64);

impl<'de> Deserialize<'de> for Seconds {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Seconds;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a positive number of seconds")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Seconds, E> {
                Ok(Seconds(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Seconds, E> {
                Ok(Seconds(v as f64))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Seconds, E> {
                Ok(Seconds(v as f64))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Seconds, E> {
                v.trim()
                    .parse()
                    .map(Seconds)
                    .map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
            }
        }
        d.deserialize_any(V)
    }
}

/// The signing keys: `"id:secret,id:secret"` (first is current) or `{ current, keys: { id: secret } }`.
#[derive(Clone, Debug, PartialEq)]
enum Keys {
    Spec(String),
    Map {
        current: String,
        keys: Vec<(String, String)>,
    },
}

impl<'de> Deserialize<'de> for Keys {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Keys;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(r#""id:secret,id:secret" or { current, keys: { id: secret } }"#)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Keys, E> {
                Ok(Keys::Spec(v.to_owned()))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Keys, A::Error> {
                #[derive(Deserialize)]
                struct Secrets(std::collections::BTreeMap<String, String>);
                let (mut current, mut keys) = (None, None);
                while let Some(name) = map.next_key::<String>()? {
                    match name.as_str() {
                        "current" => current = Some(map.next_value::<String>()?),
                        "keys" => keys = Some(map.next_value::<Secrets>()?.0),
                        other => return Err(de::Error::unknown_field(other, &["current", "keys"])),
                    }
                }
                Ok(Keys::Map {
                    current: current.ok_or_else(|| de::Error::missing_field("current"))?,
                    keys: keys
                        .ok_or_else(|| de::Error::missing_field("keys"))?
                        .into_iter()
                        .collect(),
                })
            }
        }
        d.deserialize_any(V)
    }
}

impl Keys {
    fn ring(self) -> Result<KeyRing, ConfigError> {
        match self {
            Self::Spec(spec) => KeyRing::parse(&spec),
            Self::Map { current, keys } => {
                if !keys.iter().any(|(id, _)| *id == current) {
                    return Err(ConfigError::InvalidKeyRing("current key is not in keys"));
                }
                let mut ordered: Vec<_> = keys.into_iter().collect();
                ordered.sort_by_key(|(id, _)| *id != current);
                if ordered
                    .iter()
                    .any(|(_, s)| s.contains(',') || s.contains(':'))
                {
                    return Err(ConfigError::InvalidKeyRing("secrets are base64url text"));
                }
                let spec: Vec<String> = ordered
                    .iter()
                    .map(|(id, secret)| format!("{id}:{secret}"))
                    .collect();
                KeyRing::parse(&spec.join(","))
            }
        }
    }
}

/// Cookie settings (`cookie` option).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
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
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Options {
    keys: Option<Keys>,
    envelope_ttl: Option<Seconds>,
    idle_timeout: Option<Seconds>,
    absolute_timeout: Option<Seconds>,
    cookie: Option<CookieOptions>,
    strict: Option<bool>,
    store_timeout_ms: Option<f64>,
    /// Set by the host when a revocation hub binding was given (the binding itself stays there).
    hub: Option<bool>,
    hub_poll_interval: Option<Seconds>,
    /// Accepted for compatibility; the global cutoff is now read on every refresh.
    #[allow(dead_code)]
    revocation_sync_ms: Option<f64>,
}

/// Every option name the core reads, for refusing the rest.
#[cfg_attr(not(feature = "wasm"), allow(dead_code))] // Read by the wasm bindings only.
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
#[cfg_attr(not(feature = "wasm"), allow(dead_code))] // Read by the wasm bindings only.
pub const COOKIE_OPTION_NAMES: &[&str] =
    &["name", "hostPrefix", "sameSite", "domain", "path", "secure"];

/// Refuses option names the core does not know (a typo such as `envelopeTTL` must not silently
/// fall back to a default). `cookie` holds the names inside the `cookie` option.
#[cfg_attr(not(feature = "wasm"), allow(dead_code))] // Read by the wasm bindings only.
pub fn check_names<'a>(
    top: impl IntoIterator<Item = &'a str>,
    cookie: impl IntoIterator<Item = &'a str>,
) -> Result<(), ConfigError> {
    let unknown = |name: &str, known: &[&str], what: &str| {
        ConfigError::InvalidOption(format!(
            "unknown {what} `{name}`; known: {}",
            known.join(", ")
        ))
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

/// What the host needs from the options besides the engine.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Settings {
    /// The cookie's full name.
    pub cookie_name: String,
    /// Store call deadline in ms.
    pub store_timeout_ms: u64,
    /// The key ids, current first (never a secret).
    pub key_ids: Vec<String>,
    /// The timeouts in force, in seconds.
    pub timeouts: Timeouts,
    /// The revocation hub's poll interval in seconds; `None` without a hub.
    pub hub_poll_interval: Option<f64>,
}

/// The timeouts in force, in seconds (for operators' status pages).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Timeouts {
    /// Envelope lifetime.
    pub envelope_ttl: f64,
    /// Idle timeout.
    pub idle_timeout: f64,
    /// Absolute lifetime.
    pub absolute_timeout: f64,
}

fn millis(value: Option<Seconds>, name: &'static str, default: u64) -> Result<u64, ConfigError> {
    match value {
        None => Ok(default),
        Some(Seconds(s)) if s.is_finite() && s > 0.0 && s <= 1e10 => {
            Ok((s * 1000.0).round() as u64)
        }
        Some(_) => Err(ConfigError::InvalidTimeouts(name)),
    }
}

impl Options {
    /// Reads options from stored JSON text (native hosts and tests).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn from_json(text: &str) -> Result<Self, ConfigError> {
        serde_json::from_str(text).map_err(|e| ConfigError::InvalidOption(e.to_string()))
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
            Some(_) => {
                return Err(ConfigError::InvalidOption(
                    "storeTimeoutMs must be between 1 and 60000".into(),
                ))
            }
        };
        // A record's write may land up to a read and a write after its envelope was signed.
        policy.write_grace_ms = store_timeout_ms.saturating_mul(2);
        let c = self.cookie.unwrap_or_default();
        let base = c.name.as_deref().unwrap_or(DEFAULT_COOKIE_NAME);
        let name = if c.host_prefix.unwrap_or(true) {
            format!("__Host-{base}")
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
        let hub_poll_interval =
            match (self.hub.unwrap_or(false), self.hub_poll_interval) {
                (false, None) => None,
                (false, Some(_)) => return Err(ConfigError::InvalidOption(
                    "hubPollInterval needs hub (a RevocationHub Durable Object namespace binding)"
                        .into(),
                )),
                (true, interval) => {
                    let s = interval.map_or(DEFAULT_HUB_POLL_INTERVAL_S, |Seconds(s)| s);
                    if !(0.1..=300.0).contains(&s) {
                        return Err(ConfigError::InvalidOption(
                            "hubPollInterval must be between 0.1 and 300 seconds".into(),
                        ));
                    }
                    engine.follow_hub((s * 1000.0).round() as u64);
                    Some(s)
                }
            };
        let p = engine.policy();
        let settings = Settings {
            cookie_name: engine.cookie().name().to_owned(),
            store_timeout_ms,
            key_ids: engine.ring().ids().map(str::to_owned).collect(),
            timeouts: Timeouts {
                envelope_ttl: p.envelope_ttl_ms as f64 / 1000.0,
                idle_timeout: p.idle_timeout_ms as f64 / 1000.0,
                absolute_timeout: p.absolute_timeout_ms as f64 / 1000.0,
            },
            hub_poll_interval,
        };
        Ok((engine, settings))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY";

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
