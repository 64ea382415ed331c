//! Crash points for the crash tests. With `KASA_FAILPOINT=<name>` (or
//! `<name>#<n>` for its n-th occurrence) in the environment, the process
//! stops dead at that point: it prints `KASA FAILPOINT <name>` on stderr and
//! the task that reached it waits for ever, so a test can kill the process
//! with SIGKILL at exactly that moment. Without the variable a point costs
//! one comparison.

use std::io::Write;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

fn armed() -> &'static Option<(String, u32)> {
    static ARMED: OnceLock<Option<(String, u32)>> = OnceLock::new();
    ARMED.get_or_init(|| {
        let v = std::env::var("KASA_FAILPOINT").ok()?;
        let v = v.trim();
        if v.is_empty() {
            return None;
        }
        Some(match v.split_once('#') {
            Some((name, n)) => (name.to_string(), n.trim().parse().unwrap_or(1)),
            None => (v.to_string(), 1),
        })
    })
}

/// Reach the crash point `name`.
pub async fn hit(name: &str) {
    static SEEN: AtomicU32 = AtomicU32::new(0);
    let Some((want, nth)) = armed() else {
        return;
    };
    if want != name || SEEN.fetch_add(1, Ordering::SeqCst) + 1 != *nth {
        return;
    }
    {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "KASA FAILPOINT {name}");
        let _ = err.flush();
    }
    std::future::pending::<()>().await;
}
