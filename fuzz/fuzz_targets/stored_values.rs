//! The stored-value decoders, fed as the host feeds them (JSON text as `&str`): records and
//! tombstones, cutoffs, index and last-seen entries, hub pages and hub entries. Whatever decodes
//! must re-encode to a value that decodes to the same thing; whatever does not is refused with
//! the decoder's own reason; a hub entry that applies makes the isolate refuse what it names.
#![no_main]

use edge_session::{
    Cutoff, HubPage, HubRevocation, HubState, IndexEntry, Lineage, RecordState, RejectReason,
    Revocations, SessionHandle, Touch, Value, STORE_VERSION,
};
use edge_session_fuzz::T0;
use libfuzzer_sys::fuzz_target;

fn records(text: &str) {
    match RecordState::decode(text) {
        Ok(RecordState::Live(record)) => {
            assert_eq!(record.v, STORE_VERSION);
            let again = Value::Record(record.clone()).to_json();
            assert_eq!(
                RecordState::decode(again.as_str()),
                Ok(RecordState::Live(record))
            );
        }
        Ok(RecordState::Ended(tombstone)) => {
            assert_eq!(tombstone.v, STORE_VERSION);
            let again = Value::Tombstone(tombstone.clone()).to_json();
            assert_eq!(
                RecordState::decode(again.as_str()),
                Ok(RecordState::Ended(tombstone))
            );
        }
        Err(reason) => assert!(
            matches!(
                reason,
                RejectReason::CorruptRecord | RejectReason::RecordVersion
            ),
            "{reason:?}"
        ),
    }
}

fn cutoffs(text: &str) {
    match Cutoff::decode(text) {
        Ok(cutoff) => {
            assert_eq!(cutoff.v, STORE_VERSION);
            let again = Value::Cutoff(cutoff.clone()).to_json();
            assert_eq!(Cutoff::decode(again.as_str()), Ok(cutoff));
        }
        Err(reason) => assert_eq!(reason, RejectReason::CorruptCutoff),
    }
}

fn entries(text: &str) {
    if let Some(entry) = IndexEntry::decode(text) {
        assert_eq!(entry.v, STORE_VERSION);
        let again = Value::Index(entry.clone()).to_json();
        assert_eq!(IndexEntry::decode(again.as_str()), Some(entry));
    }
    if let Some(touch) = Touch::decode(text) {
        assert_eq!(touch.v, STORE_VERSION);
        let again = Value::Touch(touch.clone()).to_json();
        assert_eq!(Touch::decode(again.as_str()), Some(touch));
    }
}

/// `text` as a whole page, then as the one entry of a page.
fn hub(text: &str) {
    let mut state = HubState::new(5_000);
    let mut revocations = Revocations::default();
    match state.apply(text, &mut revocations, T0) {
        Ok(_) => {
            assert!(state.seq() <= state.head(), "applied past the hub's head");
            // A second application of the same page changes nothing it says.
            let seq = state.seq();
            let _ = state.apply(text, &mut revocations, T0);
            assert!(state.seq() <= state.head());
            assert!(seq <= state.head());
        }
        Err(reason) => assert_eq!(reason, RejectReason::StoreUnavailable),
    }

    let page = format!(r#"{{"entries":[{text}],"head":1,"log":"fuzz"}}"#);
    let mut state = HubState::new(5_000);
    let mut revocations = Revocations::default();
    let applied = state.apply(page.as_str(), &mut revocations, T0);
    // The entry as the library reads it (the wire form has no decoder of its own: a page's).
    let one = |entry: &str| {
        HubPage::decode(format!(r#"{{"entries":[{entry}],"head":1,"log":"fuzz"}}"#).as_str())
            .and_then(|page| page.entries.into_iter().next())
    };
    let Some(entry) = one(text) else {
        return;
    };
    assert_eq!(
        applied,
        Ok((false, false)),
        "a page of one readable entry applies"
    );
    assert_eq!((state.seq(), state.head()), (1, 1));
    // Round trip through the wire form.
    let mut wire = String::new();
    entry.write_json(&mut wire);
    assert_eq!(one(&wire), Some(entry.clone()));
    if entry.seq != 1 || entry.until <= T0 {
        return;
    }
    // The isolate now refuses what the entry names.
    let other_handle =
        SessionHandle::parse("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").expect("a handle");
    let other_lineage = Lineage::from_bytes([0xEE; 16]);
    match &entry.revocation {
        HubRevocation::Session { handle } => {
            if let Ok(handle) = SessionHandle::parse(handle) {
                let r = revocations.check(&handle, &other_lineage, "someone", T0 - 1, T0);
                assert_eq!(r, Some(RejectReason::Rotated));
            }
        }
        HubRevocation::Login { lineage } => {
            if let Some(lineage) = Lineage::parse(lineage) {
                let r = revocations.check(&other_handle, &lineage, "someone", T0 - 1, T0);
                assert_eq!(r, Some(RejectReason::Revoked));
            }
        }
        HubRevocation::User {
            user_id,
            before,
            keep,
        } => {
            if *before > 0 && keep.is_none() {
                let r = revocations.check(&other_handle, &other_lineage, user_id, before - 1, T0);
                assert_eq!(r, Some(RejectReason::Revoked));
            }
        }
        HubRevocation::Before { before } => assert!(revocations.issued_before() >= *before),
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let text: &str = &text;
    records(text);
    cutoffs(text);
    entries(text);
    hub(text);
});
