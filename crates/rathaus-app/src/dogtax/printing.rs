//! Printing a year's annual notices as PDF files for the print shop: a file per household,
//! `<Kassenzeichen>-<year>.pdf`, rendered on every core.
//!
//! The notices are read from the store a page at a time and handed to the process's rendering
//! workers in small jobs, so memory stays bounded whatever the size of the municipality. Each
//! file is written under a `.part` name and renamed when complete; a file that is there and
//! complete is not rendered again. So a run that stopped (interrupted, or the machine went down)
//! continues where it stopped when started again, and no household gets two notices for a year.
//!
//! The workers are shared by every run of the process: several municipalities printed at once
//! take turns job by job (the job queue serves waiting runs in order), so each one progresses
//! and none starves the others.

use std::collections::VecDeque;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use tokio::sync::{mpsc, oneshot};

use super::assess::Progress;
use super::notice::{NoticeContent, render};
use crate::files::write_complete;
use crate::{App, AppError};

/// Notices a rendering job carries: small, so that runs interleave finely.
const JOB_SIZE: usize = 8;

/// What printing a year's notices did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrintReport {
    pub dir: PathBuf,
    /// The year's annual notices of the municipality.
    pub notices: usize,
    /// Files rendered by this run.
    pub written: usize,
    /// Files that were there already, complete (from an earlier, interrupted run).
    pub present: usize,
    /// The run stopped before every notice was printed; run it again to go on.
    pub interrupted: bool,
}

struct Job {
    notices: Vec<NoticeContent>,
    dir: Arc<PathBuf>,
    /// Counts each file as it is written, for the run's progress.
    written: Arc<AtomicUsize>,
    reply: oneshot::Sender<Result<usize, AppError>>,
}

/// The process's rendering workers: one thread per core, fed from one bounded queue.
struct RenderPool {
    jobs: mpsc::Sender<Job>,
    workers: usize,
}

static POOL: OnceLock<RenderPool> = OnceLock::new();

fn pool() -> &'static RenderPool {
    POOL.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        // One job waiting per worker keeps every core busy without reading far ahead.
        let (jobs, queue) = mpsc::channel::<Job>(cores);
        let queue = Arc::new(Mutex::new(queue));
        let mut workers = 0;
        for n in 0..cores {
            let queue = queue.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("notice-render-{n}"))
                .spawn(move || {
                    loop {
                        let job = match queue.lock() {
                            Ok(mut q) => q.blocking_recv(),
                            Err(_) => None,
                        };
                        let Some(job) = job else { return };
                        let result = render_job(&job);
                        let _ = job.reply.send(result);
                    }
                });
            if spawned.is_ok() {
                workers += 1;
            }
        }
        RenderPool { jobs, workers }
    })
}

/// Renders a job's notices into their files; returns how many it wrote.
fn render_job(job: &Job) -> Result<usize, AppError> {
    for c in &job.notices {
        let pdf = render(std::slice::from_ref(c))?;
        // Not synced file by file: a file cut short by a crash lacks its end-of-file marker and
        // is printed again (see `complete`).
        write_complete(&job.dir.join(file_name(c)), &pdf, false)?;
        job.written.fetch_add(1, Ordering::Relaxed);
    }
    Ok(job.notices.len())
}

/// `<Kassenzeichen>-<year>.pdf`, with anything but letters, digits, `-` and `_` in the
/// Kassenzeichen (which a taken-over register may bring) replaced, so a name never leaves the
/// directory.
pub(crate) fn file_name(c: &NoticeContent) -> String {
    let safe: String = c
        .kassenzeichen
        .chars()
        .map(|ch| {
            if ch.is_ascii_alphanumeric() || ch == '-' || ch == '_' {
                ch
            } else {
                '_'
            }
        })
        .collect();
    format!("{safe}-{}.pdf", c.year)
}

/// Whether a complete PDF is at `path`: present and ending with the end-of-file marker, which
/// a file cut short (the machine went down while writing) lacks.
fn complete(path: &Path) -> bool {
    let Ok(mut file) = std::fs::File::open(path) else {
        return false;
    };
    let mut tail = [0u8; 32];
    let Ok(len) = file.seek(SeekFrom::End(0)) else {
        return false;
    };
    let start = len.saturating_sub(tail.len() as u64);
    if file.seek(SeekFrom::Start(start)).is_err() {
        return false;
    }
    let Ok(n) = file.read(&mut tail) else {
        return false;
    };
    tail[..n].windows(5).any(|w| w == b"%%EOF")
}

/// The jobs of one run on their way through the pool.
struct InFlight {
    replies: VecDeque<oneshot::Receiver<Result<usize, AppError>>>,
    written: Arc<AtomicUsize>,
    first_error: Option<AppError>,
}

impl InFlight {
    /// Waits for the oldest job.
    async fn settle_one(&mut self) {
        let Some(reply) = self.replies.pop_front() else {
            return;
        };
        let result = reply
            .await
            .unwrap_or_else(|_| Err(AppError::Internal("a rendering worker stopped".into())));
        if let Err(e) = result {
            self.first_error.get_or_insert(e);
        }
    }
}

impl App {
    /// Prints the year's annual notices of a municipality into `dir`, skipping those printed
    /// already (see the module's documentation).
    pub async fn dogtax_print_notices(
        &self,
        reference: &str,
        year: i32,
        dir: &Path,
        progress: &dyn Progress,
    ) -> Result<PrintReport, AppError> {
        let tenant = self.dogtax_municipality(reference).await?;
        let key = tenant.key.as_str();
        std::fs::create_dir_all(dir)
            .map_err(|e| AppError::BadInput(format!("cannot create {}: {e}", dir.display())))?;
        let pool = pool();
        if pool.workers == 0 {
            return Err(AppError::Unavailable(
                "no thread could be started to render the notices".into(),
            ));
        }
        let mut report = PrintReport {
            dir: dir.to_owned(),
            notices: self.store.dogtax_annual_notice_count(key, year).await?,
            written: 0,
            present: 0,
            interrupted: false,
        };
        progress.begin("PDFs", report.notices);
        let shared_dir = Arc::new(dir.to_owned());
        let mut flight = InFlight {
            replies: VecDeque::new(),
            written: Arc::new(AtomicUsize::new(0)),
            first_error: None,
        };
        // Jobs of this run queued or rendering at once: enough to keep every worker busy.
        let in_flight_max = 2 * pool.workers;
        let mut after: Option<String> = None;
        'pages: loop {
            let page = self
                .store
                .dogtax_annual_notice_page(key, year, after.as_deref(), self.bulk_batch())
                .await?;
            let Some(last) = page.last() else { break };
            after = Some(last.id.clone());
            let mut job = Vec::new();
            let mut pending = page.into_iter().peekable();
            while let Some(notice) = pending.next() {
                let content: NoticeContent = serde_json::from_value(notice.content)
                    .map_err(|e| AppError::Internal(format!("notice {}: {e}", notice.id)))?;
                if complete(&dir.join(file_name(&content))) {
                    report.present += 1;
                } else {
                    job.push(content);
                }
                if job.len() == JOB_SIZE || (pending.peek().is_none() && !job.is_empty()) {
                    if progress.stopped() || flight.first_error.is_some() {
                        report.interrupted = true;
                        break 'pages;
                    }
                    let (reply, replied) = oneshot::channel();
                    pool.jobs
                        .send(Job {
                            notices: std::mem::take(&mut job),
                            dir: shared_dir.clone(),
                            written: flight.written.clone(),
                            reply,
                        })
                        .await
                        .map_err(|_| AppError::Internal("the rendering workers stopped".into()))?;
                    flight.replies.push_back(replied);
                    while flight.replies.len() > in_flight_max {
                        flight.settle_one().await;
                    }
                }
                progress.advance(report.present + flight.written.load(Ordering::Relaxed));
            }
            if progress.stopped() {
                report.interrupted = true;
                break;
            }
        }
        while !flight.replies.is_empty() {
            flight.settle_one().await;
            progress.advance(report.present + flight.written.load(Ordering::Relaxed));
        }
        progress.finish();
        report.written = flight.written.load(Ordering::Relaxed);
        if let Some(e) = flight.first_error {
            return Err(e);
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_complete_only_with_its_end_marker() -> Result<(), Box<dyn std::error::Error>> {
        let dir = rathaus_store::testing::TempDir::new()?;
        let (whole, cut) = (dir.path().join("a.pdf"), dir.path().join("b.pdf"));
        std::fs::write(&whole, b"%PDF-1.7\n...\n%%EOF\n")?;
        std::fs::write(&cut, b"%PDF-1.7\n...")?;
        assert!(complete(&whole));
        assert!(!complete(&cut));
        assert!(!complete(&dir.path().join("missing.pdf")));
        Ok(())
    }
}
