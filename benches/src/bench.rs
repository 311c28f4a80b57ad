//! `pkcs11-bench`: runs the same workloads against several PKCS#11 modules in one
//! process, interleaved over rounds, and prints the medians and their ratios.
//!
//! See `docs/performance.md` for the workloads, the command and the figures.

mod cli;
mod module;
mod report;
mod workloads;

use cryptoki::session::Session;
use module::Module;
use report::Cell;
use std::process::ExitCode;
use std::time::{Duration, Instant};
use workloads::{Keys, Op, OpCtx, Workload};

fn main() -> ExitCode {
    let args = match cli::parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) if e.is_empty() => {
            println!("{}", cli::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("pkcs11-bench: {e}\n\n{}", cli::USAGE);
            return ExitCode::from(2);
        }
    };
    let workloads: Vec<Workload> = workloads::all(args.find_10k)
        .into_iter()
        .filter(|w| args.only.as_ref().is_none_or(|re| re.is_match(&w.name)))
        .collect();
    if workloads.is_empty() {
        eprintln!("pkcs11-bench: no workload matches --only");
        return ExitCode::from(2);
    }
    let workers = workloads
        .iter()
        .map(|w| w.threads)
        .filter(|&t| t > 1)
        .max()
        .unwrap_or(0);
    let names = module::names(&args.modules);
    let mut modules = Vec::new();
    for (path, name) in args.modules.iter().zip(names) {
        match Module::load(path, name, workers) {
            Ok(m) => modules.push(m),
            Err(e) => {
                eprintln!("pkcs11-bench: {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
        }
    }
    let start = Instant::now();
    let mut keys: Vec<Keys> = modules.iter().map(|_| Keys::default()).collect();
    let mut cells: Vec<Vec<Cell>> = workloads
        .iter()
        .map(|_| modules.iter().map(|_| Cell::default()).collect())
        .collect();
    let seconds = Duration::from_secs_f64(args.seconds);

    // Phase 1: everything but the big search; phase 2: the token grows to 10,000 objects.
    let big = |w: &Workload| matches!(w.op, Op::Find(n) if n > 1000);
    for phase in [false, true] {
        let idx: Vec<usize> = (0..workloads.len())
            .filter(|&i| big(&workloads[i]) == phase)
            .collect();
        if idx.is_empty() {
            continue;
        }
        for (m, module) in modules.iter_mut().enumerate() {
            for &w in &idx {
                let cell = &mut cells[w][m];
                let op = workloads[w].op;
                if !module.supports(&op.mechanisms()) {
                    cell.unsupported = true;
                    continue;
                }
                let t = Instant::now();
                let prepared = match op {
                    Op::Find(n) => {
                        workloads::fill_find_objects(&module.session, &mut module.find_objects, n)
                    }
                    _ => Ok(()),
                }
                .and_then(|()| keys[m].prepare(&module.session, op))
                // One untimed operation: warms caches and checks that it works.
                .and_then(|()| measure(module, &keys[m], &workloads[w], Duration::ZERO));
                eprintln!(
                    "setup: {} on {} ({:.1} s)",
                    workloads[w].name,
                    module.name,
                    t.elapsed().as_secs_f64()
                );
                if let Err(e) = prepared {
                    cell.fail(e);
                }
            }
        }
        for round in 0..args.rounds {
            eprintln!(
                "round {}/{} ({:.0} s so far)",
                round + 1,
                args.rounds,
                start.elapsed().as_secs_f64()
            );
            for &w in &idx {
                // Alternate the order so neither module always runs first.
                let order: Vec<usize> = if round % 2 == 0 {
                    (0..modules.len()).collect()
                } else {
                    (0..modules.len()).rev().collect()
                };
                for m in order {
                    let cell = &mut cells[w][m];
                    if !cell.runnable() {
                        continue;
                    }
                    match measure(&mut modules[m], &keys[m], &workloads[w], seconds) {
                        Ok(rate) => cell.rates.push(rate),
                        Err(e) => cell.fail(e),
                    }
                }
            }
        }
    }
    let mut failed = false;
    for (w, row) in cells.iter().enumerate() {
        for (m, cell) in row.iter().enumerate() {
            if let Some(e) = &cell.error {
                failed = true;
                eprintln!("FAILED {} on {}: {e}", workloads[w].name, modules[m].name);
            }
        }
    }
    let names: Vec<String> = modules.iter().map(|m| m.name.clone()).collect();
    print!(
        "{}",
        report::render(&workloads, &names, &cells, args.markdown)
    );
    println!(
        "\nmedian of {} round(s) of {} s per workload and module; {:.0} s in all",
        args.rounds,
        args.seconds,
        start.elapsed().as_secs_f64()
    );
    for m in modules {
        m.close();
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Runs `w` on `module` for `time` (at least one operation) and returns operations
/// per second, over the measured time only (cleanup excluded). With several threads,
/// each runs on its own session and the rates add up.
fn measure(module: &mut Module, keys: &Keys, w: &Workload, time: Duration) -> Result<f64, String> {
    if w.threads <= 1 {
        return run_loop(&module.session, keys, w.op, 0, time);
    }
    if module.workers.len() < w.threads {
        return Err("not enough worker sessions".into());
    }
    // Sessions are Send but not Sync: each thread takes its own by value and gives it back.
    let mut rest = module.workers.split_off(w.threads);
    let mine = std::mem::take(&mut module.workers);
    let results: Vec<(Session, Result<f64, String>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = mine
            .into_iter()
            .enumerate()
            .map(|(i, s)| {
                scope.spawn(move || {
                    let r = run_loop(&s, keys, w.op, i + 1, time);
                    (s, r)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().map_err(|_| "worker thread panicked".to_string()))
            .collect::<Result<Vec<_>, _>>()
    })?;
    let mut total = 0.0;
    let mut error = None;
    for (s, r) in results {
        module.workers.push(s);
        match r {
            Ok(rate) => total += rate,
            Err(e) => error = Some(e),
        }
    }
    module.workers.append(&mut rest);
    match error {
        Some(e) => Err(e),
        None => Ok(total),
    }
}

/// One thread's loop: operations until `time` has passed, cleanup outside the clock.
fn run_loop(
    s: &Session,
    keys: &Keys,
    op: Op,
    thread: usize,
    time: Duration,
) -> Result<f64, String> {
    let mut ctx = OpCtx::new(thread);
    let deadline = Instant::now() + time;
    let mut measured = Duration::ZERO;
    let mut count = 0u32;
    loop {
        let t = Instant::now();
        let created = keys.run(s, op, &mut ctx)?;
        measured += t.elapsed();
        count += 1;
        workloads::cleanup(s, created)?;
        if Instant::now() >= deadline {
            break;
        }
    }
    Ok(f64::from(count) / measured.as_secs_f64().max(1e-9))
}
