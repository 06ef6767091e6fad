//! The cipher and the object layout on their own.

use super::*;

fn cipher() -> Aes256Gcm {
    DataKey::generate().cipher()
}

/// Seals `plain` as a whole object body (no header), the way the store does.
fn seal_all(c: &Aes256Gcm, plain: &[u8]) -> Vec<Vec<u8>> {
    let n = segments(plain.len() as u64);
    (0..n)
        .map(|i| {
            let from = (i * SEGMENT) as usize;
            let to = (from + SEGMENT as usize).min(plain.len());
            let mut out = Vec::new();
            seal_segment(c, i, i == n - 1, &plain[from..to], &mut out);
            out
        })
        .collect()
}

#[test]
fn segments_round_trip_and_sizes_add_up() {
    let c = cipher();
    for len in [0, 1, SEGMENT - 1, SEGMENT, SEGMENT + 1, 3 * SEGMENT + 17] {
        let plain: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let sealed = seal_all(&c, &plain);
        let stored: u64 = sealed.iter().map(|s| s.len() as u64).sum();
        assert_eq!(stored + 50, sealed_len(50, len), "sealed_len of {len}");
        assert_eq!(plain_len(50, stored + 50).unwrap(), len, "plain_len inverts sealed_len for {len}");
        let last = sealed.len() as u64 - 1;
        let mut back = Vec::new();
        for (i, mut s) in sealed.into_iter().enumerate() {
            open_segment(&c, i as u64, i as u64 == last, &mut s).unwrap();
            back.extend_from_slice(&s);
        }
        assert_eq!(back, plain);
    }
}

#[test]
fn impossible_stored_sizes_are_refused() {
    assert!(plain_len(50, 49).is_err(), "shorter than the header");
    assert!(plain_len(50, 50 + 27).is_err(), "shorter than one segment's overhead");
    assert!(plain_len(50, 50 + SEALED_SEGMENT + 28).is_err(), "an empty segment after a full one");
    assert_eq!(plain_len(50, 50 + SEALED_SEGMENT + 29).unwrap(), SEGMENT + 1);
}

#[test]
fn a_flipped_byte_anywhere_in_a_segment_is_detected() {
    let c = cipher();
    let plain = vec![7u8; 1000];
    let sealed = seal_all(&c, &plain).remove(0);
    for at in [0, 11, 12, 500, sealed.len() - 1] {
        let mut s = sealed.clone();
        s[at] ^= 0x01;
        assert_eq!(open_segment(&c, 0, true, &mut s), Err(FormatError::Segment(0)), "flip at {at}");
    }
}

#[test]
fn truncation_reordering_and_moved_segments_fail() {
    let c = cipher();
    let plain: Vec<u8> = (0..3 * SEGMENT).map(|i| (i % 13) as u8).collect();
    let sealed = seal_all(&c, &plain);
    // Cut after the second segment: it was sealed as "not last".
    assert!(open_segment(&c, 1, true, &mut sealed[1].clone()).is_err(), "truncation");
    // Swap the first two.
    assert!(open_segment(&c, 0, false, &mut sealed[1].clone()).is_err(), "reordering");
    // The last segment claimed as a middle one (something appended after it).
    assert!(open_segment(&c, 2, false, &mut sealed[2].clone()).is_err(), "extension");
    // A segment of another blob at the same index.
    let other = seal_all(&cipher(), &plain);
    assert!(open_segment(&c, 0, false, &mut other[0].clone()).is_err(), "splice from another blob");
}

#[test]
fn wrong_key_fails_and_tails_are_their_own_domain() {
    let c = cipher();
    let sealed = seal_all(&c, b"hello").remove(0);
    assert!(open_segment(&cipher(), 0, true, &mut sealed.clone()).is_err(), "wrong key");
    let tail = seal_tail(&c, 0, b"hello");
    assert_eq!(open_tail(&c, 0, &tail).unwrap(), b"hello");
    assert!(open_tail(&c, SEGMENT, &tail).is_err(), "a tail is bound to its offset");
    assert!(open_segment(&c, 0, true, &mut tail.clone()).is_err(), "a tail is no segment");
    assert!(open_tail(&c, 0, &sealed).is_err(), "a segment is no tail");
}

#[test]
fn headers_round_trip_and_plaintext_is_recognised() {
    let h = Header::new(WrappedKey { key_id: "default".into(), version: 3, bytes: vec![5; 60] });
    let bytes = h.encode();
    assert_eq!(bytes.len() as u64, h.len);
    assert!(bytes.len() as u64 <= MAX_HEADER);
    assert!(Header::is_sealed(&bytes));
    let mut with_data = bytes.clone();
    with_data.extend_from_slice(b"segments follow");
    assert_eq!(Header::parse(&with_data).unwrap(), h);
    assert!(Header::parse(&bytes[..bytes.len() - 1]).is_err(), "cut header");
    assert!(!Header::is_sealed(b"\x1f\x8b\x08\x00 gzip layer"));
    assert!(!Header::is_sealed(b"{\"schemaVersion\":2}"));
}
