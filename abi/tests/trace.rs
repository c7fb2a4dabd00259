//! The trace schema: record layout, batch framing round trip, and each way bytes can fail to be a
//! batch (truncated, newer format, not a trace).

use warden_abi::trace::{
    BatchError, BatchHeader, EventKind, FORMAT_VERSION, MAGIC, MAX_HEADER_SIZE, RECORD_SIZE, RMI_WARDEN_TRACE_DRAIN, TraceRecord,
    decode_batch,
};
use zerocopy::IntoBytes;

fn record(i: u32) -> TraceRecord {
    TraceRecord {
        timestamp: 0x1122_3344_5566_7788 + u64::from(i),
        duration: 1000 + i,
        id: 0xC400_0150 + i,
        arg: 0x8000_0000 + u64::from(i) * 0x1000,
        status: i,
        kind: EventKind::Rmi as u8,
        cpu: 2,
        flags: 0,
        aux: 7,
    }
}

fn batch(header: &BatchHeader, records: &[TraceRecord]) -> Vec<u8> {
    let mut buf = [0u8; MAX_HEADER_SIZE];
    let n = header.encode(&mut buf).expect("fits");
    let mut out = buf[..n].to_vec();
    for r in records {
        out.extend_from_slice(r.as_bytes());
    }
    out
}

#[test]
fn record_is_32_little_endian_bytes() {
    assert_eq!(core::mem::size_of::<TraceRecord>(), RECORD_SIZE);
    let b = record(0).as_bytes().to_vec();
    assert_eq!(&b[0..8], &0x1122_3344_5566_7788u64.to_le_bytes());
    assert_eq!(&b[12..16], &0xC400_0150u32.to_le_bytes());
    assert_eq!((b[28], b[29], b[31]), (EventKind::Rmi as u8, 2, 7));
}

#[test]
fn words_are_the_record_bytes() {
    for i in 0..4 {
        let r = record(i);
        let words: Vec<u8> = r.to_words().iter().flat_map(|w| w.to_le_bytes()).collect();
        assert_eq!(words, r.as_bytes());
    }
}

#[test]
fn the_drain_fid_is_forwarded_by_tf_a() {
    // SMC64, fast, Standard Secure Service, fnum in 0x150..=0x18E, bits 23:17 zero.
    let f = RMI_WARDEN_TRACE_DRAIN;
    assert_eq!(f >> 24, 0xC4);
    assert!((0x150..=0x18E).contains(&(f & 0xFFFF)));
    assert_eq!(f & 0x00FE_0000, 0);
    assert!(warden_abi::fid::RmiCommand::from_fid(f).is_none(), "not an RMI 1.0 command");
}

#[test]
fn kinds_round_trip() {
    for k in EventKind::ALL {
        assert_eq!(EventKind::from_raw(k as u8), Some(k));
    }
    assert_eq!(EventKind::from_raw(0), None);
    assert_eq!(EventKind::from_raw(9), None);
}

#[test]
fn batches_round_trip_and_concatenate() {
    let h1 = BatchHeader::new(2, 62_500_000, 3, 4, true);
    let h2 = BatchHeader::new(5, 1_000_000_000, 0, 0, false);
    let rs: Vec<_> = (0..4).map(record).collect();
    let mut bytes = batch(&h1, &rs);
    bytes.extend(batch(&h2, &[]));
    let (b1, rest) = decode_batch(&bytes).expect("first");
    assert_eq!(b1.header, h1);
    assert_eq!(b1.records().collect::<Vec<_>>(), rs);
    let (b2, rest) = decode_batch(rest).expect("second");
    assert_eq!(b2.header, h2);
    assert_eq!(b2.records().count(), 0);
    assert!(rest.is_empty());
    // The varint header is short: version, CPU, frequency, drops, count, flag.
    assert!(bytes.len() < MAX_HEADER_SIZE + 4 * RECORD_SIZE);
}

#[test]
fn every_truncation_is_reported_as_truncated() {
    let bytes = batch(&BatchHeader::new(0, 1_000_000_000, 0, 2, false), &[record(0), record(1)]);
    for cut in 1..bytes.len() {
        match decode_batch(&bytes[..cut]) {
            Err(BatchError::Truncated { available, needed }) => {
                assert_eq!(available, cut);
                assert!(needed > cut);
            }
            other => panic!("cut at {cut}: {other:?}"),
        }
    }
}

#[test]
fn not_a_trace_and_newer_formats_are_refused() {
    assert_eq!(decode_batch(b"").unwrap_err(), BatchError::NotATrace);
    assert_eq!(decode_batch(b"\x7fELF\x02\x01\x01").unwrap_err(), BatchError::NotATrace);
    assert_eq!(decode_batch(b"WTRX....").unwrap_err(), BatchError::NotATrace);
    let mut newer = batch(&BatchHeader::new(0, 1, 0, 0, false), &[]);
    newer[MAGIC.len()] = (FORMAT_VERSION + 1) as u8;
    assert_eq!(decode_batch(&newer).unwrap_err(), BatchError::NewerFormat { version: FORMAT_VERSION + 1 });
    // A bool that is neither 0 nor 1 is malformed.
    let mut bad = batch(&BatchHeader::new(0, 1, 0, 0, false), &[]);
    *bad.last_mut().unwrap() = 7;
    assert_eq!(decode_batch(&bad).unwrap_err(), BatchError::Malformed);
}
