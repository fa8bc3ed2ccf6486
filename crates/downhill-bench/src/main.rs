//! `downhill-bench`: the speed goals of downhill measured side by side.
//!
//! Each workload runs all its implementations interleaved in rounds (every
//! implementation once per round, the order rotating), pools the rounds,
//! and reports medians, spread and ratios against the workload's
//! hand-written Rust reference. See BENCHMARKS.md for the workloads and
//! the latest results.
//!
//! ```text
//! cargo run --release -p downhill-bench -- [--quick] [--only E,W1,...] [--rounds N]
//!     [--json] [--json-out FILE] [--markdown FILE] [--python PY] [--peers DIR] [--cli PATH]
//! ```

mod anatomy;
mod downhill_large;
mod downhill_sweep;
mod harness;
mod peers;
mod phases;
mod report;
mod simd;
mod sys;
mod work_e;
mod work_w1;
mod work_w2;
mod work_w3;
mod work_w4;
mod work_w5;

use std::path::PathBuf;
use std::time::Instant;

use report::Table;

/// What every workload needs to know.
pub struct Config {
    /// Small sizes and few rounds (a smoke test, about a minute).
    pub quick: bool,
    /// Rounds per workload.
    pub rounds: usize,
    /// Python peers, if a Python was given.
    pub peers: Option<peers::Peers>,
    /// The `downhill` CLI binary, if found.
    pub cli: Option<PathBuf>,
}

const WORKLOADS: [&str; 6] = ["E", "W1", "W2", "W3", "W4", "W5"];

const USAGE: &str = "usage: downhill-bench [--quick] [--only E,W1,W2,W3,W4,W5] [--rounds N]
                      [--json] [--json-out FILE] [--markdown FILE]
                      [--python PY] [--peers DIR] [--cli PATH]
       downhill-bench --phases SLICES [--csv]
       downhill-bench --w1-anatomy REPS

  --quick          small sizes, 2 rounds: a smoke test
  --only LIST      workloads to run (default: all)
  --rounds N       interleaved rounds per workload (default 5, quick 2)
  --json           print JSON (every sample) instead of the tables
  --json-out FILE  also write the JSON to FILE
  --markdown FILE  also write the tables as Markdown to FILE
  --python PY      run the Python peers (bench/peers/*.py) with this interpreter
  --peers DIR      folder of the peer scripts (default: the repository's bench/peers)
  --cli PATH       the downhill binary for W1's end-to-end row (default: next to this binary)
  --phases SLICES  instead of the workloads: which kinds of code this machine's slow
                   phases slow down (W5 BFGS, hand loop and driver, against five small
                   loops), in SLICES alternating slices; --csv prints every slice
  --w1-anatomy REPS  instead of the workloads: W1's hand loop against six loops that each
                   add one difference on the way to driver::run (REPS alternating repetitions)";

struct Args {
    quick: bool,
    only: Vec<String>,
    rounds: Option<usize>,
    json: bool,
    json_out: Option<PathBuf>,
    markdown: Option<PathBuf>,
    python: Option<PathBuf>,
    peers: Option<PathBuf>,
    cli: Option<PathBuf>,
    phases: Option<usize>,
    csv: bool,
    anatomy: Option<usize>,
}

/// The value of option `name` as a count of at least 1.
fn positive(name: &str, text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err(format!("{name} must be at least 1")),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("{name}: {e}")),
    }
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        quick: false,
        only: WORKLOADS.iter().map(|s| s.to_string()).collect(),
        rounds: None,
        json: false,
        json_out: None,
        markdown: None,
        python: None,
        peers: None,
        cli: None,
        phases: None,
        csv: false,
        anatomy: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match a.as_str() {
            "--quick" => args.quick = true,
            "--json" => args.json = true,
            "--only" => {
                let list = value("--only")?;
                args.only = Vec::new();
                for w in list.split(',').map(|w| w.trim().to_uppercase()) {
                    if !WORKLOADS.contains(&w.as_str()) {
                        return Err(format!("unknown workload {w:?} (known: {WORKLOADS:?})"));
                    }
                    args.only.push(w);
                }
            }
            "--rounds" => args.rounds = Some(positive("--rounds", &value("--rounds")?)?),
            "--json-out" => args.json_out = Some(value("--json-out")?.into()),
            "--markdown" => args.markdown = Some(value("--markdown")?.into()),
            "--python" => args.python = Some(value("--python")?.into()),
            "--peers" => args.peers = Some(value("--peers")?.into()),
            "--cli" => args.cli = Some(value("--cli")?.into()),
            "--phases" => args.phases = Some(positive("--phases", &value("--phases")?)?),
            "--csv" => args.csv = true,
            "--w1-anatomy" => {
                args.anatomy = Some(positive("--w1-anatomy", &value("--w1-anatomy")?)?)
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(args)
}

fn rustc_version() -> String {
    std::process::Command::new("rustc")
        .arg("-V")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// `YYYY-MM-DD HH:MM` UTC, from the system clock.
fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    // civil-from-days (H. Hinnant)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + if month <= 2 { 1 } else { 0 };
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("downhill-bench: {e}");
            std::process::exit(2);
        }
    };
    if let Some(slices) = args.phases {
        phases::run_phases(slices, args.csv);
        return;
    }
    if let Some(reps) = args.anatomy {
        anatomy::run_anatomy(reps);
        return;
    }
    let peers = args.python.clone().map(|py| {
        let dir = args
            .peers
            .clone()
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../bench/peers"));
        peers::Peers::probe(py, dir)
    });
    let cli = args.cli.clone().or_else(|| {
        std::env::current_exe()
            .ok()
            .and_then(|e| e.parent().map(|p| p.join("downhill")))
            .filter(|p| p.exists())
    });
    let config = Config {
        quick: args.quick,
        rounds: args.rounds.unwrap_or(if args.quick { 2 } else { 5 }),
        peers,
        cli,
    };

    let mut meta = vec![
        ("date".to_string(), utc_now()),
        ("cpu".to_string(), sys::cpu_model()),
        (
            "cores".to_string(),
            std::thread::available_parallelism()
                .map(|n| n.get().to_string())
                .unwrap_or_default(),
        ),
        (
            "rayon threads".to_string(),
            rayon::current_num_threads().to_string(),
        ),
        ("simd".to_string(), sys::simd_level().to_string()),
        ("rustc".to_string(), rustc_version()),
        (
            "mode".to_string(),
            if config.quick { "quick" } else { "full" }.into(),
        ),
        ("rounds".to_string(), config.rounds.to_string()),
    ];
    if let Some(p) = &config.peers {
        meta.push(("python".into(), p.versions()));
        if !p.missing.is_empty() {
            meta.push(("python missing".into(), p.missing.join(", ")));
        }
    }
    meta.push(("load average at start".into(), sys::load_average()));
    for (k, v) in &meta {
        eprintln!("{k}: {v}");
    }

    let started = Instant::now();
    let mut tables: Vec<Table> = Vec::new();
    let mut timeline = Vec::new();
    for w in WORKLOADS
        .iter()
        .filter(|w| args.only.iter().any(|o| o == *w))
    {
        let t = Instant::now();
        eprintln!("{w}: running (load average {})", sys::load_average());
        let mut produced = match *w {
            "E" => work_e::run(&config),
            "W1" => work_w1::run(&config),
            "W2" => work_w2::run(&config),
            "W3" => work_w3::run(&config),
            "W4" => work_w4::run(&config),
            "W5" => work_w5::run(&config),
            _ => unreachable!(),
        };
        timeline.push(format!(
            "{w}: {:.0} s, load average before {}",
            t.elapsed().as_secs_f64(),
            sys::load_average()
        ));
        if !args.json {
            for table in &produced {
                println!("{}", table.text());
            }
        }
        tables.append(&mut produced);
    }
    meta.push((
        "benchmark time".into(),
        format!("{:.0} s", started.elapsed().as_secs_f64()),
    ));
    meta.push(("load average at end".into(), sys::load_average()));

    let json = serde_json::json!({
        "meta": meta
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect::<serde_json::Map<_, _>>(),
        "timeline": timeline,
        "tables": tables.iter().map(Table::json).collect::<Vec<_>>(),
    });
    let json_text = serde_json::to_string_pretty(&json).expect("JSON serializes");
    if args.json {
        println!("{json_text}");
    }
    if let Some(path) = &args.json_out {
        if let Err(e) = std::fs::write(path, &json_text) {
            eprintln!("downhill-bench: cannot write {}: {e}", path.display());
        }
    }
    if let Some(path) = &args.markdown {
        let mut md = String::new();
        for (k, v) in &meta {
            md.push_str(&format!("- {k}: {v}\n"));
        }
        for t in &timeline {
            md.push_str(&format!("- {t}\n"));
        }
        md.push('\n');
        for table in &tables {
            md.push_str(&table.markdown());
        }
        if let Err(e) = std::fs::write(path, md) {
            eprintln!("downhill-bench: cannot write {}: {e}", path.display());
        }
    }
    let goals: Vec<String> = tables
        .iter()
        .flat_map(|t| {
            t.goals.iter().map(move |g| match t.judge(g) {
                Some((v, met)) => format!(
                    "{:<28} {:<50} {}  {}",
                    t.id,
                    g.row,
                    if met { "met    " } else { "NOT met" },
                    match g.metric {
                        report::Metric::Time => format!("{v:.2}x (goal {})", g.text),
                        report::Metric::Bandwidth => format!("{:.0}% (goal {})", 100.0 * v, g.text),
                    }
                ),
                None => format!("{:<28} {:<50} not measured ({})", t.id, g.row, g.text),
            })
        })
        .collect();
    eprintln!("\ngoals:");
    for g in goals {
        eprintln!("  {g}");
    }
}
