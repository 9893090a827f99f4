//! Progress on stderr: a bar with rate and ETA redrawn in place on a terminal, a plain line
//! every few seconds otherwise (logs, CI), nothing when quiet.

use std::io::{IsTerminal as _, Write as _};
use std::time::{Duration, Instant};

/// How progress is shown.
#[derive(Debug)]
pub struct Progress {
    mode: Mode,
    what: &'static str,
    started: Instant,
    last: Instant,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Bar,
    Lines,
    Quiet,
}

const BAR_EVERY: Duration = Duration::from_millis(200);
const LINE_EVERY: Duration = Duration::from_secs(5);
const WIDTH: usize = 30;

impl Progress {
    /// A bar if stderr is a terminal, plain lines if not; nothing if `quiet`.
    pub fn new(what: &'static str, quiet: bool) -> Self {
        let mode = if quiet {
            Mode::Quiet
        } else if std::io::stderr().is_terminal() {
            Mode::Bar
        } else {
            Mode::Lines
        };
        let now = Instant::now();
        Self {
            mode,
            what,
            started: now,
            last: now,
        }
    }

    /// Nothing shown (tests, `--json` callers that want a clean stderr).
    pub fn quiet() -> Self {
        Self::new("", true)
    }

    /// `done` leaves so far, `fraction` of the source read if known.
    pub fn update(&mut self, done: u64, fraction: Option<f64>) {
        let every = match self.mode {
            Mode::Quiet => return,
            Mode::Bar => BAR_EVERY,
            Mode::Lines => LINE_EVERY,
        };
        if self.last.elapsed() < every {
            return;
        }
        self.last = Instant::now();
        let line = self.line(done, fraction);
        let mut err = std::io::stderr().lock();
        let _ = match self.mode {
            Mode::Bar => write!(err, "\r{line}\x1b[K"),
            _ => writeln!(err, "{line}"),
        };
    }

    /// The final line.
    pub fn done(&mut self, done: u64) {
        if self.mode == Mode::Quiet {
            return;
        }
        let line = self.line(done, Some(1.0));
        let mut err = std::io::stderr().lock();
        let _ = match self.mode {
            Mode::Bar => writeln!(err, "\r{line}\x1b[K"),
            _ => writeln!(err, "{line}"),
        };
    }

    fn line(&self, done: u64, fraction: Option<f64>) -> String {
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        let rate = done as f64 / secs;
        let mut line = format!("{}: {done} leaves, {}/s", self.what, human(rate));
        if let Some(f) = fraction.map(|f| f.clamp(0.0, 1.0)) {
            let eta = if f > 0.0 { secs * (1.0 - f) / f } else { 0.0 };
            if self.mode == Mode::Bar {
                let filled = (f * WIDTH as f64) as usize;
                line = format!(
                    "[{}{}] {line}",
                    "=".repeat(filled),
                    " ".repeat(WIDTH - filled)
                );
            }
            line.push_str(&format!(", {:.0}%, ETA {}", f * 100.0, clock(eta)));
        }
        line
    }
}

fn human(rate: f64) -> String {
    if rate >= 1e6 {
        format!("{:.2}M", rate / 1e6)
    } else if rate >= 1e3 {
        format!("{:.1}k", rate / 1e3)
    } else {
        format!("{rate:.0}")
    }
}

fn clock(secs: f64) -> String {
    let s = secs.round() as u64;
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_has_rate_share_and_eta() {
        let p = Progress {
            mode: Mode::Lines,
            what: "replay",
            started: Instant::now() - Duration::from_secs(10),
            last: Instant::now(),
        };
        let line = p.line(50_000, Some(0.25));
        assert!(
            line.starts_with("replay: 50000 leaves, 5.0k/s, 25%, ETA 0:00:30"),
            "{line}"
        );
    }
}
