//! Python peers: scripts in `bench/peers/` run as subprocesses inside the
//! interleaved rounds. Each run prints one JSON object per line:
//! `{"row": ..., "secs": ..., "units": ..., "solves": ..., "note": ...}`;
//! the scripts time only their kernels (imports, set-up and JIT compilation
//! are outside the timed part).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::harness::{Impl, Measured, Sample};
use crate::sys::run_child;

/// Where and how to run the peers.
#[derive(Clone, Debug)]
pub struct Peers {
    /// The Python interpreter.
    pub python: PathBuf,
    /// The folder with the scripts.
    pub dir: PathBuf,
    /// Importable libraries among numpy, scipy, torch, jax.
    pub libs: Vec<String>,
    /// Libraries that are not importable (reported in notes).
    pub missing: Vec<String>,
}

fn command(python: &Path) -> Command {
    let mut c = Command::new(python);
    // A shared machine may set these for old OpenBLAS builds; they slow a
    // current numpy/scipy down. Unset for the peers only.
    c.env_remove("OPENBLAS_CORETYPE")
        .env_remove("OPENBLAS_L2_SIZE");
    c
}

impl Peers {
    /// Probes which libraries `python` can import.
    pub fn probe(python: PathBuf, dir: PathBuf) -> Peers {
        let mut libs = Vec::new();
        let mut missing = Vec::new();
        for lib in ["numpy", "scipy", "torch", "jax"] {
            let ok = command(&python)
                .args(["-c", &format!("import {lib}")])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if ok {
                libs.push(lib.to_string());
            } else {
                missing.push(lib.to_string());
            }
        }
        Peers {
            python,
            dir,
            libs,
            missing,
        }
    }

    /// Whether `lib` is importable.
    pub fn has(&self, lib: &str) -> bool {
        self.libs.iter().any(|l| l == lib)
    }

    /// Versions of the importable libraries, e.g. `numpy 2.4.6, scipy 1.17.1`.
    pub fn versions(&self) -> String {
        let code = format!(
            "import importlib, sys\nprint('Python ' + sys.version.split()[0], end='')\nfor m in {:?}:\n    print(', ' + m + ' ' + importlib.import_module(m).__version__, end='')\n",
            self.libs
        );
        command(&self.python)
            .args(["-c", &code])
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    }

    /// An implementation that runs `script` with `args` once per round.
    pub fn implementation(&self, name: &str, script: &str, args: Vec<String>) -> Impl {
        let python = self.python.clone();
        let path = self.dir.join(script);
        Impl::cold(name.to_string(), move || {
            let mut cmd = command(&python);
            cmd.arg(&path).args(&args);
            let run = run_child(&mut cmd)?;
            if !run.success {
                return Err(format!(
                    "{} failed: {}",
                    path.display(),
                    run.stderr.lines().last().unwrap_or("")
                ));
            }
            parse_lines(&run.stdout)
        })
    }
}

/// Parses the JSON lines of a peer run.
pub fn parse_lines(stdout: &str) -> Result<Vec<Measured>, String> {
    let mut out = Vec::new();
    for line in stdout.lines().filter(|l| l.trim_start().starts_with('{')) {
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| format!("bad peer output {line:?}: {e}"))?;
        let field = |k: &str| v.get(k).and_then(|x| x.as_f64());
        let row = v
            .get("row")
            .and_then(|x| x.as_str())
            .ok_or_else(|| format!("peer output without row: {line}"))?;
        let secs = field("secs").ok_or_else(|| format!("peer output without secs: {line}"))?;
        let units = field("units").unwrap_or(1.0);
        let mut m = Measured::new(
            row,
            Sample {
                secs,
                units,
                solves: field("solves").unwrap_or(1.0),
            },
        );
        if let Some(note) = v.get("note").and_then(|x| x.as_str()) {
            m = m.note(note);
        }
        if let Some(extra) = v.get("extra").and_then(|x| x.as_object()) {
            for (k, x) in extra {
                if let Some(x) = x.as_f64() {
                    m = m.extra(k, x);
                }
            }
        }
        out.push(m);
    }
    if out.is_empty() {
        return Err("peer printed no result".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::parse_lines;

    #[test]
    fn parses_peer_lines() {
        let m = parse_lines(
            "import noise\n{\"row\": \"numpy\", \"secs\": 2.0, \"units\": 4, \"note\": \"n\", \"extra\": {\"bytes_per_unit\": 24}}\n",
        )
        .unwrap();
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].row, "numpy");
        assert_eq!(m[0].sample.per_unit(), 0.5);
        assert_eq!(m[0].extra, vec![("bytes_per_unit".to_string(), 24.0)]);
        assert!(parse_lines("nothing").is_err());
    }
}
