//! The trace as the Host sees it: RMI_WARDEN_TRACE_DRAIN through `handle_rmi`, the batches it
//! writes into NS memory, and the events the instrumented commands, REC entries, RSI/PSCI calls,
//! EL3 calls and walks record. Without the `trace` feature the drain FID is unknown.

mod common;

use common::*;
use warden_abi::fid::SMC_UNKNOWN;
use warden_abi::trace::RMI_WARDEN_TRACE_DRAIN;

#[cfg(not(feature = "trace"))]
#[test]
fn without_the_feature_there_is_no_drain_command() {
    with_host(|h| {
        let ns = h.fresh_ns();
        let r = h.call(RMI_WARDEN_TRACE_DRAIN, &[ns, 4096, 0]);
        assert_eq!(r.0, [SMC_UNKNOWN, 0, 0, 0, 0]);
    });
}

#[cfg(feature = "trace")]
mod traced {
    use super::*;
    use warden::RmiReturn;
    use warden::platform::RealmTrap;
    use warden::rec::context::RecContext;
    use warden::trace::{TRACE_CPUS, TraceRings};
    use warden_abi::addr::{GRANULE_SIZE, Pa};
    use warden_abi::fid::{el3, psci, rmi, rsi};
    use warden_abi::rec_run::RmiRecExitReason;
    use warden_abi::status::RmiStatus;
    use warden_abi::trace::{BatchHeader, EventKind, MIN_DRAIN_BUFFER, RECORD_SIZE, TraceRecord, decode_batch, flags};

    const PC: u64 = 0x4000_1000;

    /// Drains CPU `cpu` into the NS buffer at `buf` (`size` bytes); returns the registers and the
    /// bytes written.
    fn drain_into(h: &Host<'_>, cpu: u64, buf: u64, size: u64) -> (RmiReturn, Vec<u8>) {
        let r = h.call(RMI_WARDEN_TRACE_DRAIN, &[buf, size, cpu]);
        let mut bytes = vec![0u8; if r.0[0] == 0 { r.0[1] as usize } else { 0 }];
        let mut at = 0;
        while at < bytes.len() {
            let pa = buf + at as u64;
            let n = ((GRANULE_SIZE - pa % GRANULE_SIZE) as usize).min(bytes.len() - at);
            h.m.host_read(Pa(pa), &mut bytes[at..at + n]).expect("NS buffer");
            at += n;
        }
        (r, bytes)
    }

    /// Everything CPU `cpu` recorded, drained through two granules of NS memory.
    fn drain_all(h: &Host<'_>, cpu: u64) -> (Vec<BatchHeader>, Vec<TraceRecord>) {
        let buf = h.fresh_ns();
        h.fresh_ns(); // the next granule: the buffer spans both
        let (mut headers, mut records) = (Vec::new(), Vec::new());
        loop {
            let (r, bytes) = drain_into(h, cpu, buf, 2 * GRANULE_SIZE);
            assert_eq!(r.status(), Some(RmiStatus::SUCCESS));
            assert_eq!(r.0[3], TRACE_CPUS as u64, "X3: the number of rings");
            let (batch, rest) = decode_batch(&bytes).expect("a batch");
            assert!(rest.is_empty(), "one batch per drain");
            assert_eq!(batch.header.more_pending, r.0[2] == 1);
            records.extend(batch.records());
            headers.push(batch.header);
            if r.0[2] == 0 {
                return (headers, records);
            }
        }
    }

    fn of(records: &[TraceRecord], kind: EventKind) -> Vec<TraceRecord> {
        records.iter().copied().filter(|r| r.event() == Some(kind)).collect()
    }

    #[test]
    fn granule_commands_record_rmi_and_el3_events() {
        let rings = TraceRings::new_boxed();
        with_traced_host(&rings, |h| {
            let pa = h.fresh_ns();
            assert_eq!(h.status(rmi::GRANULE_DELEGATE, &[pa]), RmiStatus::SUCCESS);
            assert_eq!(h.status(rmi::GRANULE_DELEGATE | (1 << 16), &[pa]), RmiStatus::input(), "SVE hint, gran_state");
            assert_eq!(h.status(rmi::GRANULE_UNDELEGATE, &[pa]), RmiStatus::SUCCESS);
            assert_eq!(h.call(0xC400_0156, &[]).0[0], SMC_UNKNOWN, "unknown FIDs are not traced");

            let (headers, records) = drain_all(h, 0);
            assert_eq!(headers[0].cpu, 0);
            assert_eq!(headers[0].counter_frequency, 1_000_000_000);
            assert_eq!(headers.iter().map(|h| h.dropped).sum::<u64>(), 0);
            let rmis = of(&records, EventKind::Rmi);
            let got: Vec<_> = rmis.iter().map(|r| (r.id, r.status, r.arg)).collect();
            assert_eq!(
                got,
                [
                    (rmi::GRANULE_DELEGATE as u32, 0, pa),
                    ((rmi::GRANULE_DELEGATE | (1 << 16)) as u32, RmiStatus::input().to_x0() as u32, pa),
                    (rmi::GRANULE_UNDELEGATE as u32, 0, pa),
                ]
            );
            let el3s: Vec<_> = of(&records, EventKind::El3Gtsi).iter().map(|r| (r.id, r.status, r.arg)).collect();
            assert_eq!(el3s, [(el3::GTSI_DELEGATE as u32, 0, pa), (el3::GTSI_UNDELEGATE as u32, 0, pa)]);
            for r in &records {
                assert_eq!(r.cpu, 0);
                assert_ne!(r.duration, warden_abi::trace::DURATION_SATURATED);
            }
            // Each command's record starts before its EL3 call's and lasts longer.
            assert!(rmis[0].timestamp <= records.iter().find(|r| r.event() == Some(EventKind::El3Gtsi)).unwrap().timestamp);
            // The ring is empty now.
            let (_, again) = drain_all(h, 0);
            assert!(again.is_empty());
        });
    }

    #[test]
    fn small_buffers_drain_in_several_batches() {
        let rings = TraceRings::new_boxed();
        with_traced_host(&rings, |h| {
            for _ in 0..20 {
                h.call(rmi::VERSION, &[0x1_0000]);
            }
            // A buffer for three records that crosses a granule boundary.
            let g = h.fresh_ns();
            h.fresh_ns();
            let size = (MIN_DRAIN_BUFFER + 2 * RECORD_SIZE) as u64;
            let buf = g + GRANULE_SIZE - 20;
            let mut total = Vec::new();
            let mut batches = 0;
            loop {
                let (r, bytes) = drain_into(h, 0, buf, size);
                assert_eq!(r.status(), Some(RmiStatus::SUCCESS));
                assert!(r.0[1] <= size);
                let (batch, _) = decode_batch(&bytes).expect("batch");
                if batch.header.more_pending {
                    assert_eq!(batch.header.record_count, 3, "room for the largest header and three records");
                }
                total.extend(batch.records());
                batches += 1;
                if r.0[2] == 0 {
                    break;
                }
            }
            assert!(batches >= 5);
            assert_eq!(total.len(), 20);
            assert!(total.windows(2).all(|w| w[0].timestamp <= w[1].timestamp), "in order");
        });
    }

    #[test]
    fn drain_failures_consume_nothing() {
        let rings = TraceRings::new_boxed();
        with_traced_host(&rings, |h| {
            h.call(rmi::VERSION, &[0x1_0000]);
            let ns = h.fresh_ns();
            let input = Some(RmiStatus::input());
            assert_eq!(h.call(RMI_WARDEN_TRACE_DRAIN, &[ns, 4096, TRACE_CPUS as u64]).status(), input, "CPU out of range");
            assert_eq!(h.call(RMI_WARDEN_TRACE_DRAIN, &[ns, MIN_DRAIN_BUFFER as u64 - 1, 0]).status(), input, "buffer too small");
            assert_eq!(h.call(RMI_WARDEN_TRACE_DRAIN, &[u64::MAX - 8, 4096, 0]).status(), input, "buffer wraps");
            let realm = h.fresh();
            assert_eq!(h.call(RMI_WARDEN_TRACE_DRAIN, &[realm, 4096, 0]).status(), input, "Realm PAS: the NS copy faults");
            assert_eq!(h.call(RMI_WARDEN_TRACE_DRAIN, &[MMIO, 4096, 0]).status(), input, "no memory");
            let (_, records) = drain_all(h, 0);
            assert_eq!(of(&records, EventKind::Rmi).first().map(|r| r.id), Some(rmi::VERSION as u32), "still there");
        });
    }

    fn smc_call(ctx: &mut RecContext, fid: u64, args: &[u64]) -> RealmTrap {
        ctx.pc = PC;
        ctx.gprs[0] = fid;
        ctx.gprs[1..=args.len()].copy_from_slice(args);
        smc()
    }

    #[test]
    fn rec_entry_records_the_run_rsi_psci_and_walks() {
        let rings = TraceRings::new_boxed();
        with_traced_host(&rings, |h| {
            let rec = h.active_realm(PC);
            let run = h.fresh_ns();
            h.m.script(Pa(rec), |ctx, _| smc_call(ctx, rsi::VERSION, &[0x1_0000]));
            h.m.script(Pa(rec), |ctx, _| smc_call(ctx, psci::VERSION, &[]));
            h.m.script(Pa(rec), |ctx, _| smc_call(ctx, rsi::IPA_STATE_GET, &[IPA, IPA + 0x1000]));
            h.m.script(Pa(rec), |_, _| RealmTrap::Irq);
            let (st, exit) = h.enter(rec, run);
            assert_eq!(st, RmiStatus::SUCCESS);
            assert_eq!(exit.exit_reason, RmiRecExitReason::Irq.to_raw());
            // A RIPAS change request exits to the Host.
            h.m.script(Pa(rec), |ctx, _| smc_call(ctx, rsi::IPA_STATE_SET, &[IPA, IPA + 0x1000, 0, 0]));
            let (_, exit) = h.enter(rec, run);
            assert_eq!(exit.exit_reason, RmiRecExitReason::RipasChange.to_raw());

            let (_, records) = drain_all(h, 0);
            let runs = of(&records, EventKind::RecRun);
            assert_eq!(runs.len(), 2);
            assert_eq!((runs[0].id, runs[0].aux, runs[0].arg), (RmiRecExitReason::Irq.to_raw() as u32, 0, rec));
            assert_eq!(runs[1].id, RmiRecExitReason::RipasChange.to_raw() as u32);
            let rsis: Vec<_> = of(&records, EventKind::Rsi).iter().map(|r| (r.id, r.status, r.flags)).collect();
            assert_eq!(
                rsis,
                [(rsi::VERSION as u32, 0, 0), (rsi::IPA_STATE_GET as u32, 0, 0), (rsi::IPA_STATE_SET as u32, 0, flags::TO_HOST)]
            );
            let psci: Vec<_> = of(&records, EventKind::Psci).iter().map(|r| (r.id, r.flags)).collect();
            assert_eq!(psci, [(psci::VERSION as u32, 0)]);
            for r in of(&records, EventKind::Rsi).iter().chain(&of(&records, EventKind::Psci)) {
                assert_eq!(r.arg, 0, "no Realm argument is recorded");
            }
            // REC_ENTER's RMI record encloses its run.
            let enter = of(&records, EventKind::Rmi).into_iter().find(|r| r.id == rmi::REC_ENTER as u32).unwrap();
            assert!(enter.timestamp <= runs[0].timestamp && runs[0].duration <= enter.duration);
            // DATA_CREATE and IPA_STATE_GET walked to level 3 through the walk cache.
            let walks = of(&records, EventKind::WalkHit).len() + of(&records, EventKind::WalkMiss).len();
            assert!(walks >= 2, "{walks} walks");
            for r in of(&records, EventKind::WalkHit).iter().chain(&of(&records, EventKind::WalkMiss)) {
                assert_eq!((r.id, r.arg, r.status), (0, 0, 0), "walk records carry no address");
            }
        });
    }

    #[test]
    fn each_cpu_records_into_its_own_ring() {
        let rings = TraceRings::new_boxed();
        with_traced_host(&rings, |h| {
            std::thread::scope(|s| {
                for cpu in 1..4 {
                    s.spawn(move || {
                        warden::arch::host::HostMachine::set_cpu(cpu);
                        for _ in 0..cpu {
                            h.call(rmi::FEATURES, &[0]);
                        }
                    });
                }
            });
            for cpu in 1..4u64 {
                let (headers, records) = drain_all(h, cpu);
                assert_eq!(headers[0].cpu, cpu as u16);
                assert_eq!(records.len(), cpu as usize);
                assert!(records.iter().all(|r| r.cpu == cpu as u8 && r.id == rmi::FEATURES as u32));
            }
        });
    }

    /// Writes the small trace `trace-tool`'s golden tests decode: a Realm's life on two CPUs.
    /// Run with `WARDEN_WRITE_TRACE=path cargo test -p warden --features trace --test trace -- --ignored`.
    #[test]
    #[ignore = "generates trace-tool/tests/data/small.trace"]
    fn write_small_trace() {
        let path = std::env::var("WARDEN_WRITE_TRACE").unwrap_or_else(|_| "trace-tool/tests/data/small.trace".into());
        let rings = TraceRings::new_boxed();
        let bytes = with_traced_host(&rings, |h| {
            let rec = h.active_realm(PC);
            let run = h.fresh_ns();
            for i in 0..6u64 {
                h.m.script(Pa(rec), |ctx, _| smc_call(ctx, rsi::VERSION, &[0x1_0000]));
                h.m.script(Pa(rec), move |ctx, _| smc_call(ctx, rsi::MEASUREMENT_READ, &[i % 5]));
                h.m.script(Pa(rec), |ctx, _| smc_call(ctx, psci::FEATURES, &[psci::CPU_ON_64]));
                h.m.script(Pa(rec), |_, _| RealmTrap::Irq);
                assert_eq!(h.enter(rec, run).0, RmiStatus::SUCCESS);
            }
            std::thread::scope(|s| {
                s.spawn(|| {
                    warden::arch::host::HostMachine::set_cpu(1);
                    for _ in 0..8 {
                        let g = h.fresh();
                        assert_eq!(h.status(rmi::GRANULE_UNDELEGATE, &[g]), RmiStatus::SUCCESS);
                        h.call(rmi::RTT_READ_ENTRY, &[RD, IPA, 3]);
                    }
                });
            });
            let buf = h.fresh_ns();
            h.fresh_ns();
            let mut out = Vec::new();
            for cpu in 0..2 {
                loop {
                    let (r, bytes) = drain_into(h, cpu, buf, 2 * GRANULE_SIZE);
                    out.extend_from_slice(&bytes);
                    if r.0[2] == 0 {
                        break;
                    }
                }
            }
            out
        });
        std::fs::write(&path, &bytes).expect("write the trace");
        eprintln!("wrote {} bytes to {path}", bytes.len());
    }
}
