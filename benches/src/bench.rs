//! `pkcs11-bench`: runs the same workloads against several PKCS#11 modules in one
//! process, interleaved over rounds, and prints the medians and their ratios.
//!
//! See `docs/performance.md` for the workloads, the command and the figures.

mod cli;
mod module;
mod raw;
mod report;
mod workloads;

use cryptoki::session::Session;
use module::Module;
use report::Cell;
use std::process::ExitCode;
use std::time::{Duration, Instant};
use workloads::{Keys, Op, OpCtx, Workload};

/// One column of the table: a PKCS#11 module or a raw backend.
enum Column {
    Module(Box<Module>),
    Raw(raw::Backend),
}

impl Column {
    fn name(&self) -> String {
        match self {
            Column::Module(m) => m.name.clone(),
            Column::Raw(b) => b.name().into(),
        }
    }
}

fn main() -> ExitCode {
    let mut argv = std::env::args().skip(1);
    let first = argv.next();
    if first.as_deref() == Some(module::CHILD_FLAG) {
        return child(argv.next());
    }
    let args = match cli::parse(first.into_iter().chain(argv)) {
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
    let workloads: Vec<Workload> = workloads::all(args.max_objects)
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
    let mut columns = Vec::new();
    for ((path, name), conf) in args.modules.iter().zip(names).zip(&args.confs) {
        match Module::load(path, name, workers, conf.as_deref()) {
            Ok(m) => columns.push(Column::Module(Box::new(m))),
            Err(e) => {
                eprintln!("pkcs11-bench: {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
        }
    }
    if args.raw {
        columns.push(Column::Raw(raw::Backend::AwsLc));
        columns.push(Column::Raw(raw::Backend::RustCrypto));
    }
    let start = Instant::now();
    let mut keys: Vec<Keys> = columns.iter().map(|_| Keys::default()).collect();
    let mut runners: Vec<Vec<Option<raw::Runner>>> = workloads
        .iter()
        .map(|_| columns.iter().map(|_| None).collect())
        .collect();
    let mut cells: Vec<Vec<Cell>> = workloads
        .iter()
        .map(|_| columns.iter().map(|_| Cell::default()).collect())
        .collect();
    let seconds = Duration::from_secs_f64(args.seconds);

    // One phase per object count the token must hold (0 first), so the token grows
    // from phase to phase and each workload runs on the count it names.
    let mut counts: Vec<usize> = workloads.iter().map(|w| w.op.objects_needed()).collect();
    counts.sort_unstable();
    counts.dedup();
    for count in counts {
        let idx: Vec<usize> = (0..workloads.len())
            .filter(|&i| workloads[i].op.objects_needed() == count)
            .collect();
        for (c, column) in columns.iter_mut().enumerate() {
            for &w in &idx {
                let cell = &mut cells[w][c];
                let op = workloads[w].op;
                let t = Instant::now();
                let mut unlisted = false;
                if let (Some(dir), true, Column::Module(m)) = (&args.big_dir, count > 0, &*column) {
                    if !m.moved && m.conf.is_none() && op.module_op() {
                        if let Err(e) = move_token(column, dir) {
                            eprintln!("pkcs11-bench: {e}");
                            return ExitCode::FAILURE;
                        }
                        keys[c] = Keys::default();
                    }
                }
                let prepared = match column {
                    Column::Raw(b) => match (workloads[w].threads, b.prepare(op)) {
                        (1, Some(Ok(mut r))) => r().map(|()| runners[w][c] = Some(r)),
                        (1, Some(Err(e))) => Err(e),
                        _ => {
                            cell.skip("-");
                            continue;
                        }
                    },
                    Column::Module(module) => {
                        if !op.module_op() {
                            cell.skip("-");
                            continue;
                        }
                        if !module.supports(&op.mechanisms()) {
                            if !args.try_unlisted {
                                cell.unsupported = true;
                                continue;
                            }
                            unlisted = true;
                        }
                        match fill(module, count, args.fill_budget) {
                            Ok(true) => {}
                            Ok(false) => {
                                cell.skip("n/a (setup too slow)");
                                continue;
                            }
                            Err(e) => {
                                cell.fail(e);
                                continue;
                            }
                        }
                        keys[c].child = Some(module.child.clone());
                        keys[c]
                            .prepare(&module.session, op)
                            // One untimed operation: warms caches and checks that it works.
                            .and_then(|()| measure(module, &keys[c], &workloads[w], Duration::ZERO))
                            .map(|_| ())
                    }
                };
                eprintln!(
                    "setup: {} on {} ({:.1} s)",
                    workloads[w].name,
                    column.name(),
                    t.elapsed().as_secs_f64()
                );
                match prepared {
                    Err(e) if unlisted => {
                        eprintln!(
                            "setup: {} on {}: a mechanism is not listed, and it fails: {e}",
                            workloads[w].name,
                            column.name()
                        );
                        cell.skip("n/a (not listed, fails)");
                    }
                    Err(e) => cell.fail(e),
                    Ok(()) => {}
                }
            }
        }
        for round in 0..args.rounds {
            eprintln!(
                "round {}/{} with {count} objects ({:.0} s so far)",
                round + 1,
                args.rounds,
                start.elapsed().as_secs_f64()
            );
            for &w in &idx {
                // Alternate the order so no column always runs first.
                let order: Vec<usize> = if round % 2 == 0 {
                    (0..columns.len()).collect()
                } else {
                    (0..columns.len()).rev().collect()
                };
                for c in order {
                    let cell = &mut cells[w][c];
                    if !cell.runnable() {
                        continue;
                    }
                    let result = match &mut columns[c] {
                        Column::Module(m) => measure(m, &keys[c], &workloads[w], seconds),
                        Column::Raw(_) => match runners[w][c].as_mut() {
                            Some(r) => raw_loop(r, seconds),
                            None => Err("raw operation not prepared".into()),
                        },
                    };
                    match result {
                        Ok(rate) => cell.rates.push(rate),
                        Err(e) => cell.fail(e),
                    }
                }
            }
        }
    }
    let mut failed = false;
    for (w, row) in cells.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            if let Some(e) = &cell.error {
                failed = true;
                eprintln!("FAILED {} on {}: {e}", workloads[w].name, columns[c].name());
            }
        }
    }
    let names: Vec<String> = columns.iter().map(Column::name).collect();
    print!(
        "{}",
        report::render(&workloads, &names, &cells, args.markdown, args.per_op)
    );
    if args.targets {
        println!("\n{}", report::targets(&workloads, &names[0], &cells));
    }
    println!(
        "\nmedian of {} round(s) of {} s per workload and column; {:.0} s in all",
        args.rounds,
        args.seconds,
        start.elapsed().as_secs_f64()
    );
    for c in columns {
        if let Column::Module(m) = c {
            m.close();
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Closes the module of `column` and loads it again on a fresh, empty token under
/// `dir`, for the workloads with many objects. A module is loaded once per process
/// and reads its configuration at `C_Initialize`, so the old one is finalized first.
fn move_token(column: &mut Column, dir: &std::path::Path) -> Result<(), String> {
    let placeholder = Column::Raw(raw::Backend::AwsLc);
    let Column::Module(old) = std::mem::replace(column, placeholder) else {
        return Ok(());
    };
    let (path, name) = (old.child.module.clone(), old.name.clone());
    old.close();
    let mut m = Module::load_in(&path, name.clone(), 0, dir, None)
        .map_err(|e| format!("{name}: reload on a token in {}: {e}", dir.display()))?;
    m.moved = true;
    eprintln!(
        "setup: {name}: a new token in {} for the large object counts",
        dir.display()
    );
    *column = Column::Module(Box::new(m));
    Ok(())
}

/// The child process of the open-a-token workload: prints the nanoseconds it took.
fn child(path: Option<String>) -> ExitCode {
    let Some(path) = path else {
        eprintln!("pkcs11-bench: {} needs a module path", module::CHILD_FLAG);
        return ExitCode::from(2);
    };
    match module::open_once(std::path::Path::new(&path)) {
        Ok(parts) => {
            let nanos: Vec<String> = parts.iter().map(|d| d.as_nanos().to_string()).collect();
            println!("{}", nanos.join(" "));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// Fills `module`'s token up to `count` search objects. Returns false, leaving the token
/// as it is, when the rate so far predicts more than `budget` seconds for the rest (or
/// a smaller count was already too slow).
fn fill(module: &mut Module, count: usize, budget: f64) -> Result<bool, String> {
    if module.fill_cap.is_some_and(|cap| count >= cap) {
        return Ok(false);
    }
    const STEP: usize = 250;
    let started = Instant::now();
    while module.find_objects < count {
        if module.find_objects > 0 && module.fill_seconds > 0.0 {
            let rate = module.find_objects as f64 / module.fill_seconds;
            let left = (count - module.find_objects) as f64 / rate;
            if started.elapsed().as_secs_f64() + left > budget {
                eprintln!(
                    "setup: {} would need about {left:.0} s more to reach {count} objects \
                     ({rate:.0} creates/s); skipped",
                    module.name
                );
                module.fill_cap = Some(count);
                return Ok(false);
            }
        }
        let n = STEP.min(count - module.find_objects);
        let t = Instant::now();
        workloads::fill_find_objects(&module.session, &mut module.find_objects, n)?;
        module.fill_seconds += t.elapsed().as_secs_f64();
    }
    Ok(true)
}

/// A raw operation's loop: operations until `time` has passed, at least one.
fn raw_loop(r: &mut raw::Runner, time: Duration) -> Result<f64, String> {
    let start = Instant::now();
    let deadline = start + time;
    let mut count = 0u32;
    loop {
        r()?;
        count += 1;
        if Instant::now() >= deadline {
            break;
        }
    }
    Ok(f64::from(count) / start.elapsed().as_secs_f64().max(1e-9))
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
        if let Op::Open(_) = op {
            let child = keys.child.as_ref().ok_or("no child spec")?;
            measured += child.open_in_child()?;
            count += 1;
            if Instant::now() >= deadline {
                break;
            }
            continue;
        }
        workloads::cleanup(s, keys.before(s, op, &mut ctx)?)?;
        let t = Instant::now();
        let created = keys.run(s, op, &mut ctx)?;
        measured += t.elapsed();
        count += 1;
        workloads::cleanup(s, created)?;
        if Instant::now() >= deadline {
            break;
        }
    }
    workloads::cleanup(s, ctx.leftovers())?;
    Ok(f64::from(count) / measured.as_secs_f64().max(1e-9))
}
