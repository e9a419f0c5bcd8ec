//! Writes the committed seed corpora (fuzz/seeds/<target>/) from the library itself: real
//! envelopes, Cookie headers, stored values (records, tombstones, cutoffs, index and last-seen
//! entries, hub entries and pages) made by the engine under the fuzz ring, plus edge cases.
//!
//!     cargo run --manifest-path fuzz/Cargo.toml --example seeds
//!
//! Session IDs and lineages are random, so every run writes different (equally valid) files;
//! the files are replaced, not added to.

use std::fs;
use std::path::{Path, PathBuf};

use edge_session::envelope::{self, Claims};
use edge_session::{
    base64url, DataChange, Decision, Effects, Fetched, HubPage, HubRevocation, Lineage,
    SessionData, SessionId,
};
use edge_session_fuzz::{engine, resign, ring_k0_first, COOKIE, SECRET, T0};

fn dir(target: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("seeds")
        .join(target);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("seed folder");
    dir
}

fn write(dir: &Path, name: &str, bytes: impl AsRef<[u8]>) {
    fs::write(dir.join(name), bytes).expect("seed file");
}

fn envelope_of(set_cookie: &str) -> String {
    let pair = set_cookie.split(';').next().unwrap_or_default();
    pair.split_once('=')
        .map(|(_, v)| v.to_owned())
        .unwrap_or_default()
}

fn value_of(effects: &Effects, prefix: &str) -> String {
    effects
        .puts
        .iter()
        .find(|p| p.key.starts_with(prefix))
        .map(|p| p.value.to_json())
        .unwrap_or_else(|| panic!("no {prefix} write in {effects:?}"))
}

fn main() {
    let mut engine = engine();
    let data = SessionData::new(r#"{"role":"admin","n":[1,2.5,null,"x\u00e9"]}"#).expect("data");
    let alice = engine
        .issue(
            "alice",
            Some("Mozilla/5.0 (X11) Firefox/140"),
            Some(data),
            T0,
        )
        .expect("issue");
    let bob = engine.issue("bob", None, None, T0 + 1).expect("issue");
    let long = engine
        .issue(&"u".repeat(128), None, None, T0 + 2)
        .expect("issue");
    let unicode = engine
        .issue("ünïcødé ✓", Some("curl/8"), None, T0 + 3)
        .expect("issue");
    let envelopes: Vec<String> = [&alice, &bob, &long, &unicode]
        .iter()
        .map(|i| envelope_of(&i.set_cookie))
        .collect();

    // A refresh (envelope expired), a rotation, an update and a logout of alice's session.
    let cookie = format!("{COOKIE}={}", envelopes[0]);
    let later = T0 + 4 * 60_000;
    let Decision::NeedRecord(pending) = engine.validate(Some(&cookie), later) else {
        panic!("an expired envelope needs its record");
    };
    let record = alice.effects.puts[0].value.to_json();
    let reads = [Some(record.as_str()), None, None, None, None];
    let refreshed = engine
        .resume(&pending, &Fetched::from_reads(reads), later)
        .expect("resume");
    let rotation = engine
        .rotate(
            &pending,
            &Fetched::from_reads(reads),
            DataChange::Keep,
            later,
        )
        .expect("rotate");
    let update = engine
        .rotate(
            &pending,
            &Fetched::from_reads(reads),
            DataChange::Set(None),
            later,
        )
        .expect("update");
    let (logout, _) = engine.destroy(&pending, later);
    let (user_cutoff, _) = engine.revoke_user("bob", None::<&str>, later);
    let (others, _) =
        engine.revoke_user_except("alice", Some(pending.lineage()), None::<&str>, later);
    let (global, _) = engine
        .revoke_issued_before(T0 + 5, None::<&str>, later)
        .expect("cutoff");

    // k0-signed (a previous key), and a few envelopes only a key holder could make.
    let old = envelope::seal(
        &ring_k0_first(),
        COOKIE,
        &Claims {
            session_id: SessionId::from_bytes([7; 32]),
            lineage: Lineage::from_bytes([8; 16]),
            user_id: "carol".into(),
            generation: 3,
            created_at: T0,
            issued_at: T0 + 10,
            expires_at: T0 + 60_010,
            idle_deadline: T0 + 1_800_010,
            absolute_deadline: T0 + 43_200_000,
            data: None,
        },
    );

    let refreshed_envelope = envelope_of(refreshed.set_cookie.as_deref().expect("re-signed"));
    let rotated_envelope = envelope_of(&rotation.issued.set_cookie);
    let all: Vec<&String> = envelopes
        .iter()
        .chain([&old, &refreshed_envelope, &rotated_envelope])
        .collect();

    // envelope/
    let d = dir("envelope");
    for (n, e) in all.iter().enumerate() {
        write(&d, &format!("sealed-{n}"), e);
    }
    let raw = base64url::decode(&envelopes[1]).expect("b64");
    let mut bad_version = raw.clone();
    bad_version[0] = 1;
    write(
        &d,
        "bad-version",
        resign(&base64url::encode(&bad_version), &SECRET).expect("resign"),
    );
    let mut unknown_kid = raw.clone();
    unknown_kid[3] = b'9';
    write(&d, "unknown-key", base64url::encode(&unknown_kid));
    write(&d, "cut-tag", base64url::encode(&raw[..raw.len() - 16]));
    let mut flipped_tag = raw.clone();
    if let Some(last) = flipped_tag.last_mut() {
        *last ^= 1;
    }
    write(&d, "flipped-tag", base64url::encode(&flipped_tag));
    write(
        &d,
        "padded",
        format!("{}==", &envelopes[1][..envelopes[1].len() - 2]),
    );
    write(&d, "empty", "");
    write(&d, "one-char", "A");
    let mut user_len_lie = raw.clone();
    user_len_lie[2 + 2 + 32 + 16 + 4 + 40] = 200;
    write(
        &d,
        "user-length-lie",
        resign(&base64url::encode(&user_len_lie), &SECRET).expect("resign"),
    );

    // cookie_header/
    let d = dir("cookie_header");
    let e = &envelopes[0];
    for (name, header) in [
        ("alone", format!("{COOKIE}={e}")),
        (
            "among-others",
            format!("theme=dark; {COOKIE}={e}; _ga=GA1.2.3"),
        ),
        ("blanks", format!(" \t{COOKIE} \t= \t{e}\t ;x=y")),
        (
            "duplicate",
            format!("{COOKIE}={e}; {COOKIE}={}", envelopes[1]),
        ),
        ("empty-value", format!("{COOKIE}=; a=b")),
        ("quoted", format!("{COOKIE}=\"{e}\"")),
        ("lowercase-name", format!("__host-session={e}")),
        ("other-name", format!("__Host-other={e}")),
        ("no-equals", format!("{COOKIE}; a")),
        ("old-key", format!("{COOKIE}={old}")),
        ("unicode-user", format!("{COOKIE}={}", envelopes[3])),
        ("rotated", format!("{COOKIE}={rotated_envelope}")),
        ("non-ascii", format!("{COOKIE}={e}é")),
        ("only-separators", ";;; ;\t;".to_owned()),
        ("empty", String::new()),
        (
            "oversized",
            format!("{COOKIE}={e}; pad={}", "p".repeat(16 * 1024)),
        ),
    ] {
        write(&d, name, header);
    }

    // stored_values/
    let d = dir("stored_values");
    write(&d, "record", &record);
    write(&d, "record-long-user", value_of(&long.effects, "s:"));
    write(&d, "record-unicode", value_of(&unicode.effects, "s:"));
    write(
        &d,
        "record-rotated",
        value_of(&rotation.issued.effects, "s:"),
    );
    write(&d, "record-updated", value_of(&update.issued.effects, "s:"));
    write(&d, "index", value_of(&alice.effects, "u:"));
    write(&d, "touch", value_of(&refreshed.effects, "t:"));
    write(&d, "tombstone-rotated", value_of(&rotation.retire, "s:"));
    write(&d, "tombstone-revoked", value_of(&logout, "l:"));
    write(&d, "cutoff-user", value_of(&user_cutoff, "c:"));
    write(&d, "cutoff-others", value_of(&others, "o:"));
    write(&d, "cutoff-global", value_of(&global, "r:"));
    write(&d, "record-v1", record.replace("\"v\":2", "\"v\":1"));
    write(
        &d,
        "record-bad-data",
        record.replace("{\\\"role\\\"", "[\\\"role\\\""),
    );
    write(
        &d,
        "record-huge-number",
        record.replace(&format!("{T0}"), "18446744073709551616"),
    );
    write(
        &d,
        "tombstone-unknown-end",
        r#"{"v":2,"ended":"stolen","at":1}"#,
    );
    write(&d, "cutoff-negative", r#"{"v":2,"before":-1,"at":1}"#);
    write(
        &d,
        "cutoff-future",
        format!(r#"{{"v":2,"before":{},"at":1}}"#, u64::MAX),
    );
    write(&d, "null", "null");
    write(
        &d,
        "deep",
        format!("{}{}", "[".repeat(200), "]".repeat(200)),
    );
    let handle = SessionId::from_bytes([1; 32]).handle().to_string();
    let lineage = Lineage::from_bytes([2; 16]).text();
    let kinds = [
        ("session", HubRevocation::Session { handle }),
        (
            "login",
            HubRevocation::Login {
                lineage: lineage.clone(),
            },
        ),
        (
            "user",
            HubRevocation::User {
                user_id: "alice".into(),
                before: T0 + 1,
                keep: None,
            },
        ),
        (
            "others",
            HubRevocation::User {
                user_id: "alice".into(),
                before: T0 + 1,
                keep: Some(lineage),
            },
        ),
        ("before", HubRevocation::Before { before: T0 }),
    ];
    let mut entries = Vec::new();
    for (n, (kind, revocation)) in kinds.into_iter().enumerate() {
        let mut entry = engine.hub_entry(revocation, T0);
        entry.seq = n as u64 + 1;
        let mut json = String::new();
        entry.write_json(&mut json);
        write(&d, &format!("hub-entry-{kind}"), &json);
        entries.push(json);
    }
    let page = format!(
        r#"{{"entries":[{}],"head":5,"log":"seed-log"}}"#,
        entries.join(",")
    );
    HubPage::decode(page.as_str()).expect("a readable page");
    write(&d, "hub-page", &page);
    write(
        &d,
        "hub-page-reset",
        r#"{"entries":[],"head":0,"log":"another-log"}"#,
    );
    write(
        &d,
        "hub-entry-missing-field",
        r#"{"seq":1,"kind":"user","at":1,"until":2}"#,
    );

    // base64url/
    let d = dir("base64url");
    for (n, text) in [
        "",
        "Zg",
        "Zm8",
        "Zm9v",
        "Zg==",
        "Zh",
        "Z",
        "-_-_",
        "+/+/",
        "Zm9v\n",
        envelopes[2].as_str(),
    ]
    .into_iter()
    .enumerate()
    {
        write(&d, &format!("text-{n}"), text);
    }
    write(&d, "bytes", (0..=255u8).collect::<Vec<_>>());

    // stateful/: the target reads operations from these bytes (arbitrary's format), so seeds are
    // pseudo-random byte strings of several lengths (xorshift, fixed seeds: reproducible).
    let d = dir("stateful");
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for (n, len) in [16, 64, 128, 256, 512, 768, 1024, 2048, 4096, 8192]
        .into_iter()
        .enumerate()
    {
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 32) as u8
            })
            .collect();
        write(&d, &format!("random-{n}"), bytes);
    }
    println!(
        "seeds written under {}",
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("seeds")
            .display()
    );
}
