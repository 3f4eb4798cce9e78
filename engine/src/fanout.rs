//! Ordered parallel map: items from a sequential source are processed on several threads and
//! handed on in source order. Normalization uses it so both cores of a small machine work on a
//! file while the reader, which must stay sequential, feeds them.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

/// Items in flight per worker: enough to keep a worker busy while the source produces the next.
const DEPTH: usize = 2;

/// Worker threads worth running on this machine.
pub fn default_workers() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8)
}

/// Runs each item of `source` through a worker made by `make` (one per thread) and gives the
/// outputs to `sink` in source order. The first error in source order stops the run and is
/// returned, as a sequential loop would; with one worker no thread is started.
pub fn ordered_map<I, O, E, W>(
    workers: usize,
    source: impl Iterator<Item = Result<I, E>>,
    make: impl Fn() -> W + Sync,
    mut sink: impl FnMut(O) -> Result<(), E>,
) -> Result<(), E>
where
    I: Send,
    O: Send,
    E: Send,
    W: FnMut(I) -> Result<O, E>,
{
    if workers <= 1 {
        let mut work = make();
        for item in source {
            sink(work(item?)?)?;
        }
        return Ok(());
    }
    // Workers charge hooks to the caller's shared budget (spec examples), if it has one.
    let budget = crate::hooks::current_budget();
    std::thread::scope(|s| {
        let mut inputs: Vec<SyncSender<I>> = Vec::with_capacity(workers);
        let mut outputs: Vec<Receiver<Result<O, E>>> = Vec::with_capacity(workers);
        for _ in 0..workers {
            let (tx, rx) = sync_channel::<I>(DEPTH);
            let (otx, orx) = sync_channel::<Result<O, E>>(DEPTH);
            let make = &make;
            let budget = budget.clone();
            let worker =
                std::thread::Builder::new().name(format!("taskifai-fanout-{}", inputs.len()));
            worker
                .spawn_scoped(s, move || {
                    crate::hooks::within_budget(budget, || {
                        let mut work = make();
                        for item in rx {
                            let out = work(item);
                            let failed = out.is_err();
                            if otx.send(out).is_err() || failed {
                                break;
                            }
                        }
                    })
                })
                .expect("the system can start a thread");
            inputs.push(tx);
            outputs.push(orx);
        }
        let (mut sent, mut done) = (0usize, 0usize);
        let mut next = |done: &mut usize| -> Result<(), E> {
            let out = outputs[*done % workers]
                .recv()
                .expect("a worker stops only after sending its error");
            *done += 1;
            sink(out?)
        };
        for item in source {
            let item = match item {
                Ok(item) => item,
                Err(e) => {
                    // Earlier items come first, as they would in a sequential run.
                    while done < sent {
                        next(&mut done)?;
                    }
                    return Err(e);
                }
            };
            if let Err(back) = inputs[sent % workers].send(item) {
                // That worker stopped on an error: surface it in order.
                drop(back);
                while done < sent {
                    next(&mut done)?;
                }
                unreachable!("a stopped worker has sent an error");
            }
            sent += 1;
            if sent - done >= workers * DEPTH {
                next(&mut done)?;
            }
        }
        drop(inputs);
        while done < sent {
            next(&mut done)?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(
        workers: usize,
        items: Vec<Result<u32, String>>,
        fail_on: u32,
    ) -> (Vec<u32>, Result<(), String>) {
        let mut seen = Vec::new();
        let r = ordered_map(
            workers,
            items.into_iter(),
            || {
                move |x: u32| {
                    if x == fail_on {
                        Err(format!("bad {x}"))
                    } else {
                        Ok(x * 10)
                    }
                }
            },
            |o| {
                seen.push(o);
                Ok(())
            },
        );
        (seen, r)
    }

    #[test]
    fn outputs_keep_source_order() {
        for workers in [1, 2, 3, 8] {
            let (seen, r) = run(workers, (0..100).map(Ok).collect(), u32::MAX);
            assert!(r.is_ok());
            assert_eq!(
                seen,
                (0..100).map(|x| x * 10).collect::<Vec<_>>(),
                "{workers} workers"
            );
        }
    }

    #[test]
    fn the_first_error_in_source_order_wins() {
        for workers in [1, 2, 4] {
            let mut items: Vec<Result<u32, String>> = (0..50).map(Ok).collect();
            items[40] = Err("unreadable".into());
            let (seen, r) = run(workers, items, 17);
            assert_eq!(r.unwrap_err(), "bad 17", "{workers} workers");
            assert_eq!(seen, (0..17).map(|x| x * 10).collect::<Vec<_>>());
            let mut items: Vec<Result<u32, String>> = (0..50).map(Ok).collect();
            items[5] = Err("unreadable".into());
            let (seen, r) = run(workers, items, 17);
            assert_eq!(r.unwrap_err(), "unreadable");
            assert_eq!(seen.len(), 5);
        }
    }
}
