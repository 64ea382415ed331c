//! Exports for the accountant: the daily report, a terminal batch's report
//! and the day close's reconciliation as PDF ([`reports`] over [`pdf`]),
//! and transactions as CSV ([`csv`]).
//!
//! An export is a job ([`Exports`]): `export_start` checks the request (and
//! that the report font is there) and returns at once; the job runs on a
//! blocking task, counts its rows (`export_status` shows the progress),
//! checks its cancel flag every page of rows (`export_cancel`), and writes
//! to a temporary file in the exports folder that is renamed into place only
//! when complete, so a cancelled or failed job leaves no partial file. The
//! finished file is fetched with `GET /api/exports/{id}` ([`crate::server`]).
//!
//! Job ids are random (a finished file is only reachable by its id and a
//! manager's session); the same request key returns the same job.

pub mod csv;
pub mod pdf;
pub mod reports;
pub mod words;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::api::ApiError;
use crate::engine::Engine;
use crate::journal::Journal;
use crate::queries::SearchQuery;
use crate::settings::ShopSettings;
use crate::{Error, Result};

use pdf::ReportFont;
use reports::ReportContext;
pub use words::ReportLang;

/// What to export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ExportKind {
    /// The daily report of `business_day`, PDF.
    DayPdf,
    /// One terminal batch (`merchant`, `batch`) of `business_day`, PDF.
    BatchPdf,
    /// The reconciliation of `business_day`'s closed shifts, PDF.
    ReconciliationPdf,
    /// The transactions `search` finds (or all of `business_day`), CSV.
    TransactionsCsv,
    /// The installer's support bundle (`support_bundle`, not `export_start`),
    /// zip.
    SupportBundle,
}

impl ExportKind {
    fn extension(self) -> &'static str {
        match self {
            ExportKind::TransactionsCsv => "csv",
            ExportKind::SupportBundle => "zip",
            _ => "pdf",
        }
    }

    /// The file's MIME type.
    pub fn content_type(self) -> &'static str {
        match self {
            ExportKind::TransactionsCsv => "text/csv; charset=utf-8",
            ExportKind::SupportBundle => "application/zip",
            _ => "application/pdf",
        }
    }
}

/// Start an export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct ExportRequest {
    /// The client's key: the same key returns the same job.
    pub key: String,
    pub kind: ExportKind,
    /// The business day (`YYYY-MM-DD`) of a PDF report, or of a CSV with
    /// no `search`.
    #[serde(default)]
    pub business_day: Option<String>,
    /// A batch report's merchant index.
    #[serde(default)]
    pub merchant: Option<u8>,
    /// A batch report's terminal batch number.
    #[serde(default)]
    pub batch: Option<String>,
    /// A CSV's filter (its paging fields are ignored).
    #[serde(default)]
    pub search: Option<SearchQuery>,
    /// Start a CSV with a UTF-8 byte-order mark (what Excel needs to read
    /// Cyrillic).
    #[serde(default)]
    pub bom: bool,
    /// The language of the report's or the CSV header's texts (Ukrainian
    /// when not given).
    #[serde(default)]
    pub lang: Option<ReportLang>,
}

/// One export job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    pub id: String,
}

/// Cancel an export job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct ExportCancelRequest {
    pub id: String,
}

/// Save a finished export on this computer (the desktop window, which has
/// no browser download).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct ExportSaveRequest {
    pub id: String,
}

/// Where a finished export was saved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ExportSaved {
    /// The file written (in the user's downloads folder).
    pub path: String,
}

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ExportState {
    Running,
    Done,
    Failed,
    Cancelled,
}

/// An export job as the UI follows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ExportJob {
    pub id: String,
    pub kind: ExportKind,
    pub state: ExportState,
    /// Rows read so far.
    #[ts(type = "number")]
    pub rows_done: u64,
    /// Rows in all, once known.
    #[ts(type = "number | null")]
    pub rows_total: Option<u64>,
    /// The name the download is saved as.
    pub file_name: String,
    pub content_type: String,
    /// The finished file's size in bytes.
    #[ts(type = "number | null")]
    pub size: Option<u64>,
    /// Why it failed.
    pub error: Option<ApiError>,
    pub started_at: String,
    pub finished_at: Option<String>,
}

/// A job's counters and cancel flag, shared with the code that writes it.
#[derive(Debug, Default)]
struct Counters {
    done: AtomicU64,
    /// `u64::MAX`: not known yet.
    total: AtomicU64,
    cancel: AtomicBool,
}

/// How a running export reports its rows and learns it was cancelled.
#[derive(Debug, Clone)]
pub struct Progress {
    counters: Arc<Counters>,
    pause: Duration,
}

impl Progress {
    /// Progress nobody follows and nobody cancels (benchmarks, tools).
    pub fn detached() -> Self {
        Progress {
            counters: Arc::new(Counters {
                total: AtomicU64::new(u64::MAX),
                ..Counters::default()
            }),
            pause: Duration::ZERO,
        }
    }

    /// `n` more rows done; false when the job was cancelled (stop now).
    pub fn step(&self, n: u64) -> bool {
        self.counters.done.fetch_add(n, Ordering::Relaxed);
        if !self.pause.is_zero() {
            std::thread::sleep(self.pause);
        }
        !self.cancelled()
    }

    /// Whether the job was cancelled.
    pub fn cancelled(&self) -> bool {
        self.counters.cancel.load(Ordering::Relaxed)
    }

    fn set_total(&self, n: u64) {
        self.counters.total.store(n, Ordering::Relaxed);
    }
}

#[derive(Debug)]
struct Job {
    id: String,
    request: ExportRequest,
    file_name: String,
    progress: Progress,
    started_at: String,
    end: Mutex<Option<Ended>>,
}

#[derive(Debug, Clone)]
struct Ended {
    state: ExportState,
    size: Option<u64>,
    error: Option<ApiError>,
    at: String,
}

impl Job {
    fn view(&self) -> ExportJob {
        let end = self.end.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let total = self.progress.counters.total.load(Ordering::Relaxed);
        ExportJob {
            id: self.id.clone(),
            kind: self.request.kind,
            state: end.as_ref().map_or(ExportState::Running, |e| e.state),
            rows_done: self.progress.counters.done.load(Ordering::Relaxed),
            rows_total: (total != u64::MAX).then_some(total),
            file_name: self.file_name.clone(),
            content_type: self.request.kind.content_type().to_string(),
            size: end.as_ref().and_then(|e| e.size),
            error: end.as_ref().and_then(|e| e.error.clone()),
            started_at: self.started_at.clone(),
            finished_at: end.map(|e| e.at),
        }
    }
}

/// The jobs kept (finished ones beyond this are forgotten, their files removed).
const KEEP_JOBS: usize = 32;

/// The export jobs of a running checkout and the folder their files go to.
#[derive(Debug)]
pub struct Exports {
    dir: PathBuf,
    shop: ShopSettings,
    jobs: Mutex<Vec<Arc<Job>>>,
    font: Mutex<Option<Arc<ReportFont>>>,
    pause: Mutex<Duration>,
}

impl Exports {
    /// Jobs writing into `dir` (created when first needed; files an earlier
    /// run left there are removed: no job of this run knows them).
    pub fn new(dir: PathBuf, shop: ShopSettings) -> Self {
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for e in entries.flatten() {
                let p = e.path();
                if matches!(
                    p.extension().and_then(|x| x.to_str()),
                    Some("part" | "pdf" | "csv" | "zip")
                ) {
                    let _ = std::fs::remove_file(p);
                }
            }
        }
        Exports {
            dir,
            shop,
            jobs: Mutex::new(Vec::new()),
            font: Mutex::new(None),
            pause: Mutex::new(Duration::ZERO),
        }
    }

    /// The folder of the finished files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The shop as the reports' header names it.
    pub fn shop(&self) -> &ShopSettings {
        &self.shop
    }

    /// Pause after each page of rows (tests of progress and cancel: a
    /// large export made slow enough to be caught running).
    pub fn set_page_pause(&self, pause: Duration) {
        *self.pause.lock().unwrap_or_else(|p| p.into_inner()) = pause;
    }

    /// The report font, loaded once.
    pub fn font(&self) -> Result<Arc<ReportFont>> {
        let mut f = self.font.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(font) = f.as_ref() {
            return Ok(Arc::clone(font));
        }
        let font = Arc::new(ReportFont::load(&self.shop.report_font)?);
        *f = Some(Arc::clone(&font));
        Ok(font)
    }

    fn job(&self, id: &str) -> Result<Arc<Job>> {
        self.jobs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .find(|j| j.id == id)
            .cloned()
            .ok_or_else(|| {
                Error::NotFound(format!(
                    "no export {}",
                    id.chars().take(40).collect::<String>()
                ))
            })
    }

    /// Where job `id` stands.
    pub fn status(&self, id: &str) -> Result<ExportJob> {
        Ok(self.job(id)?.view())
    }

    /// Ask job `id` to stop; a finished job stays as it is.
    pub fn cancel(&self, id: &str) -> Result<ExportJob> {
        let job = self.job(id)?;
        job.progress.counters.cancel.store(true, Ordering::Relaxed);
        Ok(job.view())
    }

    /// Make the support bundle ([`crate::support`]) now, as a finished job
    /// whose file is fetched and saved like any export's. The same `key`
    /// returns the same bundle.
    pub fn support_bundle(
        &self,
        engine: &Engine,
        key: &str,
        input: &crate::support::BundleInput,
    ) -> Result<ExportJob> {
        crate::operations::check_key(key)?;
        let req = ExportRequest {
            key: key.to_string(),
            kind: ExportKind::SupportBundle,
            business_day: None,
            merchant: None,
            batch: None,
            search: None,
            bom: false,
            lang: None,
        };
        if let Some(view) = self.existing(&req)? {
            return Ok(view);
        }
        let now = engine.clock().now();
        let id = new_id()?;
        let job = Job {
            file_name: format!(
                "kasa-support-{}.zip",
                now.with_timezone(&engine.config().time_zone)
                    .format("%Y%m%d-%H%M%S")
            ),
            id,
            request: req,
            progress: Progress::detached(),
            started_at: now.to_rfc3339(),
            end: Mutex::new(None),
        };
        let path = self.final_path(&job);
        let end = match crate::support::write_bundle(input, &path) {
            Ok(names) => {
                job.progress.set_total(names.len() as u64);
                job.progress.step(names.len() as u64);
                Ended {
                    state: ExportState::Done,
                    size: Some(std::fs::metadata(&path)?.len()),
                    error: None,
                    at: engine.clock().now().to_rfc3339(),
                }
            }
            Err(e) => return Err(Error::Internal(format!("support bundle: {}", e.0))),
        };
        *job.end.lock().unwrap_or_else(|p| p.into_inner()) = Some(end);
        let view = job.view();
        self.remember(Arc::new(job));
        Ok(view)
    }

    /// Copy the finished file of job `id` into `dir` (made if missing) under
    /// its download name; a name already taken there gets ` (2)`, ` (3)`…
    /// Written beside as a part file and renamed: the user never finds half
    /// a report.
    pub fn save_to(&self, id: &str, dir: &Path) -> Result<ExportSaved> {
        let (from, name, _) = self.file(id)?;
        std::fs::create_dir_all(dir)?;
        let (stem, ext) = match name.rsplit_once('.') {
            Some((s, e)) => (s.to_string(), format!(".{e}")),
            None => (name.clone(), String::new()),
        };
        let mut to = dir.join(&name);
        let mut n = 2;
        while to.exists() {
            to = dir.join(format!("{stem} ({n}){ext}"));
            n += 1;
        }
        let part = dir.join(format!(".{name}.part"));
        std::fs::copy(&from, &part)?;
        std::fs::File::open(&part)?.sync_all()?;
        std::fs::rename(&part, &to)?;
        Ok(ExportSaved {
            path: to.display().to_string(),
        })
    }

    /// The finished file of job `id`: its path, download name and type.
    pub fn file(&self, id: &str) -> Result<(PathBuf, String, &'static str)> {
        let job = self.job(id)?;
        let view = job.view();
        if view.state != ExportState::Done {
            return Err(Error::ExportNotReady(format!(
                "export {} is {:?}",
                job.id, view.state
            )));
        }
        Ok((
            self.final_path(&job),
            job.file_name.clone(),
            job.request.kind.content_type(),
        ))
    }

    fn final_path(&self, job: &Job) -> PathBuf {
        self.dir
            .join(format!("{}.{}", job.id, job.request.kind.extension()))
    }

    /// Start an export on `engine`'s journal; returns at once.
    pub fn start(self: &Arc<Self>, engine: &Engine, req: ExportRequest) -> Result<ExportJob> {
        crate::operations::check_key(&req.key)?;
        if let Some(view) = self.existing(&req)? {
            return Ok(view);
        }
        let cx = ReportContext {
            lang: req.lang.unwrap_or_default(),
            ..self.context(engine)
        };
        let plan = Plan::check(engine.journal(), &req)?;
        let font = match req.kind {
            ExportKind::TransactionsCsv => None,
            _ => Some(self.font()?),
        };
        let id = new_id()?;
        let progress = Progress {
            pause: *self.pause.lock().unwrap_or_else(|p| p.into_inner()),
            ..Progress::detached()
        };
        progress.set_total(plan.rows);
        let job = Arc::new(Job {
            file_name: plan.file_name(&req, &cx),
            id,
            request: req,
            progress,
            started_at: cx.generated.to_rfc3339(),
            end: Mutex::new(None),
        });
        self.remember(Arc::clone(&job));
        let me = Arc::clone(self);
        let engine = engine.clone();
        let view = job.view();
        tokio::task::spawn_blocking(move || me.run(&engine, &job, &cx, font.as_deref(), &plan));
        Ok(view)
    }

    /// The job already made for `req`'s key: the same request gets it back,
    /// a different request under that key is `key_reused`.
    fn existing(&self, req: &ExportRequest) -> Result<Option<ExportJob>> {
        let jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        match jobs.iter().find(|j| j.request.key == req.key) {
            Some(j) if j.request != *req => Err(Error::KeyReused(req.key.clone())),
            Some(j) => Ok(Some(j.view())),
            None => Ok(None),
        }
    }

    fn remember(&self, job: Arc<Job>) {
        let mut jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        jobs.push(job);
        while jobs.len() > KEEP_JOBS {
            let Some(i) = jobs
                .iter()
                .position(|j| j.view().state != ExportState::Running)
            else {
                break;
            };
            let old = jobs.remove(i);
            let _ = std::fs::remove_file(self.final_path(&old));
        }
    }

    /// What every report needs: the shop, its merchants and time zone, now
    /// (in Ukrainian: a job sets its request's language).
    pub fn context(&self, engine: &Engine) -> ReportContext {
        let config = engine.config();
        ReportContext {
            shop: self.shop.name.clone(),
            tax_id: self.shop.tax_id.clone(),
            till: self.shop.till.clone(),
            merchants: config.merchants.clone(),
            time_zone: config.time_zone,
            generated: engine.clock().now(),
            lang: ReportLang::default(),
        }
    }

    fn run(
        &self,
        engine: &Engine,
        job: &Job,
        cx: &ReportContext,
        font: Option<&ReportFont>,
        plan: &Plan,
    ) {
        let part = self.dir.join(format!(".{}.part", job.id));
        let result = (|| -> Result<Option<u64>> {
            std::fs::create_dir_all(&self.dir)?;
            let file = std::fs::File::create(&part)?;
            let mut out = std::io::BufWriter::new(file);
            let finished = write_export(
                engine.journal(),
                cx,
                font,
                &job.request,
                plan,
                &mut out,
                &job.progress,
            )?;
            if !finished {
                return Ok(None);
            }
            let file = out
                .into_inner()
                .map_err(|e| Error::Io(std::io::Error::other(e.to_string())))?;
            file.sync_all()?;
            drop(file);
            let path = self.final_path(job);
            std::fs::rename(&part, &path)?;
            Ok(Some(std::fs::metadata(&path)?.len()))
        })();
        let at = engine.clock().now().to_rfc3339();
        let end = match result {
            Ok(Some(size)) => Ended {
                state: ExportState::Done,
                size: Some(size),
                error: None,
                at,
            },
            Ok(None) => Ended {
                state: ExportState::Cancelled,
                size: None,
                error: None,
                at,
            },
            Err(e) => {
                tracing::warn!("export {} failed: {e}", job.id);
                Ended {
                    state: ExportState::Failed,
                    size: None,
                    error: Some(ApiError::from(&e)),
                    at,
                }
            }
        };
        if end.state != ExportState::Done {
            let _ = std::fs::remove_file(&part);
        }
        *job.end.lock().unwrap_or_else(|p| p.into_inner()) = Some(end);
    }
}

/// A request checked against the journal before its job starts.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The day of a report (or of a CSV by day).
    pub business_day: String,
    /// A CSV's filter, or a report's transactions.
    pub search: SearchQuery,
    /// Rows the job reads.
    pub rows: u64,
}

impl Plan {
    /// Check `req`: a valid day where one is needed, a batch's merchant and
    /// number, a closed shift to reconcile.
    pub fn check(journal: &Journal, req: &ExportRequest) -> Result<Plan> {
        let day = req.business_day.as_deref().map(str::trim);
        if let Some(d) = day {
            chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
                .map_err(|_| Error::InvalidRequest(format!("{d:?} is not a date (YYYY-MM-DD)")))?;
        }
        let need_day = || {
            day.map(str::to_string).ok_or_else(|| {
                Error::InvalidRequest("this export needs a business_day (YYYY-MM-DD)".into())
            })
        };
        let (business_day, search) = match req.kind {
            ExportKind::SupportBundle => {
                return Err(Error::InvalidRequest(
                    "the support bundle is made by support_bundle".into(),
                ))
            }
            ExportKind::DayPdf => {
                let d = need_day()?;
                (
                    d.clone(),
                    SearchQuery {
                        business_day: Some(d),
                        ..SearchQuery::default()
                    },
                )
            }
            ExportKind::BatchPdf => {
                let d = need_day()?;
                let merchant = req.merchant.ok_or_else(|| {
                    Error::InvalidRequest("a batch report needs its merchant".into())
                })?;
                // No number: the payments the terminal gave no batch number
                // (a protocol that reports none, the open batch).
                let batch = req.batch.as_deref().map(str::trim).unwrap_or("");
                if batch.len() > 32 {
                    return Err(Error::InvalidRequest(
                        "a batch number is at most 32 characters".into(),
                    ));
                }
                (
                    d.clone(),
                    SearchQuery {
                        business_day: Some(d),
                        merchant: Some(merchant),
                        batch: Some(batch.to_string()),
                        method: Some(crate::api::PaymentMethod::Card),
                        ..SearchQuery::default()
                    },
                )
            }
            ExportKind::ReconciliationPdf => {
                let d = need_day()?;
                let closed = journal.read(|c| {
                    Ok(crate::journal::one(
                        c,
                        "SELECT COUNT(*) FROM shifts
                         WHERE business_day = ?1 AND reconciliation IS NOT NULL",
                        [&d],
                        |r| r.get::<_, i64>(0),
                    )?)
                })?;
                if closed == 0 {
                    return Err(Error::NotAllowed(format!(
                        "{d} has no closed shift: reconciliation comes with the day close"
                    )));
                }
                (d, SearchQuery::default())
            }
            ExportKind::TransactionsCsv => match (&req.search, day) {
                (Some(q), _) => (
                    q.business_day.clone().unwrap_or_default(),
                    SearchQuery {
                        after: None,
                        limit: None,
                        no_totals: false,
                        ..q.clone()
                    },
                ),
                (None, Some(d)) => (
                    d.to_string(),
                    SearchQuery {
                        business_day: Some(d.to_string()),
                        ..SearchQuery::default()
                    },
                ),
                (None, None) => {
                    return Err(Error::InvalidRequest(
                        "a CSV export needs a search or a business_day".into(),
                    ))
                }
            },
        };
        let rows = if req.kind == ExportKind::ReconciliationPdf {
            0
        } else {
            // Also checks the search's fields before the job starts.
            let page = journal.search(&SearchQuery {
                limit: Some(1),
                no_totals: false,
                ..search.clone()
            })?;
            page.totals.map_or(0, |t| u64::from(t.count))
        };
        Ok(Plan {
            business_day,
            search,
            rows,
        })
    }

    fn file_name(&self, req: &ExportRequest, cx: &ReportContext) -> String {
        let stamp = cx
            .generated
            .with_timezone(&cx.time_zone)
            .format("%Y%m%d-%H%M%S");
        let day = if self.business_day.is_empty() {
            stamp.to_string()
        } else {
            self.business_day.clone()
        };
        let safe = |s: &str| -> String {
            s.chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .take(32)
                .collect()
        };
        match req.kind {
            ExportKind::DayPdf => format!("kasa-day-{day}.pdf"),
            ExportKind::BatchPdf => format!(
                "kasa-batch-{day}-m{}-{}.pdf",
                req.merchant.unwrap_or(0),
                safe(req.batch.as_deref().unwrap_or(""))
            ),
            ExportKind::ReconciliationPdf => format!("kasa-reconciliation-{day}.pdf"),
            ExportKind::TransactionsCsv => format!("kasa-transactions-{day}.csv"),
            ExportKind::SupportBundle => format!("kasa-support-{stamp}.zip"),
        }
    }
}

/// Write the export `req` (checked as `plan`) to `out`; false when
/// cancelled part way. The whole of a job's work, without the job: the
/// benchmarks call it directly.
pub fn write_export(
    journal: &Journal,
    cx: &ReportContext,
    font: Option<&ReportFont>,
    req: &ExportRequest,
    plan: &Plan,
    out: &mut dyn std::io::Write,
    progress: &Progress,
) -> Result<bool> {
    progress.set_total(plan.rows);
    let font = || {
        font.ok_or_else(|| Error::ReportFontMissing("no font was loaded for a PDF report".into()))
    };
    let pdf = match req.kind {
        ExportKind::SupportBundle => {
            return Err(Error::InvalidRequest(
                "the support bundle is made by support_bundle".into(),
            ))
        }
        ExportKind::TransactionsCsv => {
            return csv::transactions_csv(journal, cx, &plan.search, req.bom, out, progress);
        }
        ExportKind::DayPdf => {
            let day = journal.day_report(&plan.business_day, cx.time_zone)?;
            let Some(rows) = reports::all_rows(journal, &plan.search, progress)? else {
                return Ok(false);
            };
            match reports::day_pdf(font()?, cx, &day, &rows, progress) {
                Some(bytes) => bytes,
                None => return Ok(false),
            }
        }
        ExportKind::BatchPdf => {
            let Some(mut rows) = reports::all_rows(journal, &plan.search, progress)? else {
                return Ok(false);
            };
            let batch = plan.search.batch.as_deref().unwrap_or("");
            // The search ignores an empty batch: keep exactly this batch's rows.
            rows.retain(|r| r.batch.as_deref().unwrap_or("") == batch);
            reports::batch_pdf(
                font()?,
                cx,
                &plan.business_day,
                plan.search.merchant.unwrap_or(0),
                batch,
                &rows,
            )
        }
        ExportKind::ReconciliationPdf => {
            let day = journal.day_report(&plan.business_day, cx.time_zone)?;
            reports::reconciliation_pdf(font()?, cx, &day)
        }
    };
    if progress.cancelled() {
        return Ok(false);
    }
    out.write_all(&pdf)?;
    out.flush()?;
    Ok(true)
}

/// A random job id: 16 bytes as hex.
fn new_id() -> Result<String> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| Error::Internal(format!("no randomness: {e}")))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}
