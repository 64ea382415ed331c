//! The emulator's electronic journal (КЛЕФ): every numbered document as it
//! was printed (the rendered lines, never the command data echoed back),
//! kept in the state file so it survives restarts, and readable line by line
//! through 0x7E (`R,<number>`, then `N` while the answer is `P,<line>`).
//!
//! [`load_state`] reads a state file after the fact, so a test that ran the
//! emulator as a separate process can check its counters and journal.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::dialect::ErrorKind;
use crate::{Error, Result};

use super::{Device, Outcome, PersistedState};

/// One numbered document in the journal.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct JournalDocument {
    pub number: u64,
    /// `sale`, `return`, `cash_in`, `cash_out`, `card_cash_out`, `x`, `z`.
    pub kind: String,
    pub lines: Vec<String>,
}

/// Loads an emulator state file: counters, any open receipt, the journal.
pub fn load_state(path: &Path) -> Result<PersistedState> {
    let text = std::fs::read_to_string(path)?;
    serde_json::from_str(&text)
        .map_err(|e| Error::Protocol(format!("state file {}: {e}", path.display())))
}

/// Where a 0x7E read stands: the document (index in the journal) and the
/// next line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JournalCursor {
    pub doc: usize,
    pub line: usize,
}

impl Device {
    /// Records a numbered document as printed. With the
    /// `drop_rrn_from_journal` fault the RRN line is left out (a firmware
    /// that records less than it prints).
    pub(super) fn journal_add(&mut self, number: u64, kind: &str, lines: &[String]) {
        let lines: Vec<String> = if self.config.faults.drop_rrn_from_journal {
            lines
                .iter()
                .filter(|l| !l.trim_start().starts_with("RRN"))
                .cloned()
                .collect()
        } else {
            lines.to_vec()
        };
        self.state.journal.push(JournalDocument {
            number,
            kind: kind.to_string(),
            lines,
        });
    }

    /// 0x7E: `R,<number>` starts reading a document and answers its first
    /// line; `N` answers the next. `P,<line>` while lines remain, `F` at the
    /// end or for a document the journal does not hold.
    pub(super) fn journal_read(&mut self, p: &[String]) -> Outcome {
        match p.first().map(|s| s.trim()) {
            Some("R") => {
                let n: u64 = p
                    .get(1)
                    .and_then(|s| s.trim().parse().ok())
                    .ok_or(ErrorKind::Syntax)?;
                self.journal_cursor = self
                    .state
                    .journal
                    .iter()
                    .position(|d| d.number == n)
                    .map(|doc| JournalCursor { doc, line: 0 });
            }
            Some("N") => {}
            _ => return Err(ErrorKind::Syntax),
        }
        let Some(cur) = self.journal_cursor else {
            return Ok(vec!["F".into()]);
        };
        let line = self
            .state
            .journal
            .get(cur.doc)
            .and_then(|d| d.lines.get(cur.line))
            .cloned();
        match line {
            Some(l) => {
                self.journal_cursor = Some(JournalCursor {
                    line: cur.line + 1,
                    ..cur
                });
                Ok(vec!["P".into(), l])
            }
            None => {
                self.journal_cursor = None;
                Ok(vec!["F".into()])
            }
        }
    }
}
