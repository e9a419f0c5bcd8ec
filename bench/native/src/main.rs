//! The core natively: a plain loop over `Engine::validate` (fast path), and the bare HMAC floor on
//! the same envelopes, interleaved in one process. Run by bench/run.mjs:
//!
//! ```text
//! edge-session-bench <key ring> <data json> <reps> <target ms per measurement>
//! ```
//!
//! Prints one JSON object: nanoseconds per call for each rep of each case.

use std::hint::black_box;
use std::time::{Duration, Instant};

use edge_session::{CookieConfig, Decision, Engine, KeyRing, Policy, SessionData};
use hmac_floor::Floor;

const USER: &str = "user-12345";
const T0: u64 = 1_700_000_000_000;

type Case<'a> = (&'static str, Box<dyn FnMut() -> bool + 'a>);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, ring, data, reps, target_ms] = args.as_slice() else {
        return Err("usage: edge-session-bench <key ring> <data json> <reps> <target ms>".into());
    };
    let reps: usize = reps.parse()?;
    let target = Duration::from_secs_f64(target_ms.parse::<f64>()? / 1000.0);

    let engine = Engine::new(
        KeyRing::parse(ring)?,
        Policy::default(),
        CookieConfig::default(),
    )?;
    let cookie = |data: Option<SessionData>| -> Result<String, Box<dyn std::error::Error>> {
        let issued = engine.issue(USER, None, data, T0)?;
        Ok(issued
            .set_cookie
            .split(';')
            .next()
            .unwrap_or_default()
            .to_owned())
    };
    let plain = cookie(None)?;
    let with_data = cookie(Some(SessionData::new(data)?))?;
    let value = |header: &str| {
        header
            .split_once('=')
            .map(|(_, v)| v.to_owned())
            .unwrap_or_default()
    };
    let (plain_value, data_value) = (value(&plain), value(&with_data));

    let secret = ring.split_once(':').map(|(_, s)| s).unwrap_or_default();
    let secret = edge_session::base64url::decode(secret).ok_or("secret is not base64url")?;
    let subkey = hmac_floor::subkey(&secret, CookieConfig::default().name());
    let (mut floor_plain, mut floor_data) = (Floor::new(&subkey), Floor::new(&subkey));

    let now = T0 + 1_000;
    let valid = |header: &str| matches!(engine.validate(Some(black_box(header)), now), Decision::Valid(s) if s.user_id == USER);
    let mut cases: Vec<Case<'_>> = vec![
        ("core", Box::new(|| valid(&plain))),
        ("coreData", Box::new(|| valid(&with_data))),
        (
            "floor",
            Box::new(|| floor_plain.verify(black_box(plain_value.as_bytes()))),
        ),
        (
            "floorData",
            Box::new(|| floor_data.verify(black_box(data_value.as_bytes()))),
        ),
    ];

    // Every case must accept its cookie before anything is timed; then size each loop.
    let mut iterations = Vec::new();
    for (name, run) in &mut cases {
        if !run() {
            return Err(format!("{name}: the cookie was not accepted").into());
        }
        iterations.push(calibrate(run, target));
    }
    let mut results: Vec<Vec<f64>> = vec![Vec::new(); cases.len()];
    for rep in 0..reps {
        // A different order each rep, so no case always runs first.
        for k in 0..cases.len() {
            let i = (k + rep) % cases.len();
            let (n, (_, run)) = (iterations[i], &mut cases[i]);
            let started = Instant::now();
            let mut ok = 0u64;
            for _ in 0..n {
                ok += u64::from(run());
            }
            let elapsed = started.elapsed();
            if ok != n {
                return Err(format!("{}: {} of {n} calls refused", cases[i].0, n - ok).into());
            }
            results[i].push(elapsed.as_nanos() as f64 / n as f64);
        }
    }

    let field = |(i, (name, _)): (usize, &Case<'_>)| {
        let reps: Vec<String> = results[i].iter().map(|ns| format!("{ns:.2}")).collect();
        format!(
            "\"{name}\":{{\"n\":{},\"ns\":[{}]}}",
            iterations[i],
            reps.join(",")
        )
    };
    let fields: Vec<String> = cases.iter().enumerate().map(field).collect();
    println!(
        "{{\"cookieLen\":{{\"plain\":{},\"data\":{}}},\"cases\":{{{}}}}}",
        plain_value.len(),
        data_value.len(),
        fields.join(",")
    );
    Ok(())
}

/// The number of calls that takes about `target`.
fn calibrate(run: &mut dyn FnMut() -> bool, target: Duration) -> u64 {
    let mut n = 64u64;
    loop {
        let started = Instant::now();
        for _ in 0..n {
            black_box(run());
        }
        let elapsed = started.elapsed();
        if elapsed >= target / 8 || n >= 1 << 30 {
            let scaled = n as f64 * target.as_secs_f64() / elapsed.as_secs_f64().max(1e-9);
            return (scaled as u64).max(1);
        }
        n *= 4;
    }
}
