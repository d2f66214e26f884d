//! Progress on stderr.

use super::*;

pub(crate) struct Progress {
    pub(crate) total: usize,
    pub(crate) done: usize,
    pub(crate) start: Instant,
    pub(crate) tty: bool,
}

impl Progress {
    pub(crate) fn step(&mut self, what: &str) {
        self.done += 1;
        let frac = self.done as f64 / self.total.max(1) as f64;
        let el = self.start.elapsed().as_secs_f64();
        let eta = if self.done > 0 { el / frac - el } else { 0.0 };
        if self.tty {
            let w = 30;
            let filled = (frac * w as f64) as usize;
            eprint!(
                "\r[{}{}] {:>3}/{} {:>5.0}s left  {:<48}",
                "#".repeat(filled),
                " ".repeat(w - filled),
                self.done,
                self.total,
                eta,
                what
            );
            let _ = std::io::stderr().flush();
        } else if self.done * 10 / self.total.max(1) != (self.done - 1) * 10 / self.total.max(1) {
            eprintln!(
                "progress: {}/{} cells, {:.0}s elapsed",
                self.done, self.total, el
            );
        }
    }
    pub(crate) fn finish(&self) {
        if self.tty {
            eprintln!();
        }
    }
}
