//! Who is at the till. Each user logs in by PIN (kept as an argon2id hash,
//! [`pin`]), has a role (cashier, manager, installer) and is one of the
//! fiscal register's operators, so the receipts they print name them.
//!
//! - Wrong PINs in a row lock the user out for a while (the count and the
//!   end of the lockout are in the journal, so a restart changes nothing).
//! - A refund above the configured amount and every void asked by a cashier
//!   need a manager's PIN typed on the cashier's screen ([`Approval`]).
//! - Every login, failed PIN, lockout, approval and change of a user is
//!   written to the hash-chained audit log.
//! - Sessions live in memory: a restart asks everyone to log in again. The
//!   HTTP server keeps the session's token in an `HttpOnly; SameSite=Strict`
//!   cookie, the desktop window in its own state.
//! - The first run in production asks for the first manager; demo mode has
//!   training users whose PINs the login screen shows, never accepted once
//!   devices are configured.

pub mod pin;
mod users;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

pub(crate) use users::role_name;
pub use users::UserRecord;

use crate::commands::{Caller, Role};
use crate::journal::audit::{self, AuditEntry};
use crate::journal::Journal;
use crate::settings::AccessSettings;
use crate::{Error, Result};

/// A session unused this long is ended.
pub const SESSION_IDLE: Duration = Duration::from_secs(12 * 3600);

/// The languages a user may choose.
pub const LANGUAGES: [&str; 3] = ["uk", "ru", "en"];

/// Demo mode's training users: name, role, PIN, fiscal operator.
pub const TRAINING: [(&str, Role, &str, u32); 3] = [
    ("Касир (навчання)", Role::Cashier, "1111", 1),
    ("Менеджер (навчання)", Role::Manager, "2222", 2),
    ("Налагоджувальник (навчання)", Role::Installer, "3333", 3),
];

/// A user as the UI sees it (never the PIN or its hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct UserView {
    #[ts(type = "number")]
    pub id: i64,
    pub name: String,
    pub role: Role,
    /// The fiscal register's operator number the user prints as.
    pub operator: u32,
    /// The language the user chose (`uk`, `ru`, `en`), if any.
    pub language: Option<String>,
    /// A demo mode's training user.
    pub training: bool,
    pub active: bool,
    /// Locked out after wrong PINs until then (UTC, RFC 3339).
    pub locked_until: Option<String>,
}

impl From<&UserRecord> for UserView {
    fn from(u: &UserRecord) -> Self {
        UserView {
            id: u.id,
            name: u.name.clone(),
            role: u.role,
            operator: u.operator,
            language: u.language.clone(),
            training: u.training,
            active: u.active,
            locked_until: u.locked_until.clone(),
        }
    }
}

/// The logged-in user and the rules the screen needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct SessionView {
    pub user: UserView,
    /// A refund above this (kopiykas) asked by a cashier needs a manager's PIN.
    #[ts(type = "number")]
    pub refund_approval_above: i64,
}

/// The session, if there is one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct SessionState {
    pub session: Option<SessionView>,
}

/// Someone the login screen offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct LoginUser {
    #[ts(type = "number")]
    pub id: i64,
    pub name: String,
    pub role: Role,
}

/// A demo mode's training PIN, shown on the login screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct TrainingPin {
    #[ts(type = "number")]
    pub user: i64,
    pub name: String,
    pub role: Role,
    pub pin: String,
}

/// What the login screen shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct LoginOptions {
    /// No user yet: the first manager must be created.
    pub first_run: bool,
    pub users: Vec<LoginUser>,
    /// Demo mode only.
    pub training: Vec<TrainingPin>,
}

/// Log in as `user` with `pin`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[ts(type = "number")]
    pub user: i64,
    pub pin: String,
}

/// Log out (no parameters).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct LogoutRequest {}

/// The first run: create the first manager (and log in as them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct FirstManagerRequest {
    pub name: String,
    pub pin: String,
}

/// Create (no `id`) or change a user. A PIN is required for a new user;
/// a new PIN also ends a lockout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct SaveUserRequest {
    #[serde(default)]
    #[ts(type = "number | null")]
    pub id: Option<i64>,
    pub name: String,
    pub role: Role,
    pub operator: u32,
    #[serde(default)]
    pub pin: Option<String>,
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

/// The user's language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct LanguageRequest {
    pub language: String,
}

/// Every user (the manager's list).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct UserList {
    pub users: Vec<UserView>,
}

/// A manager's PIN typed on a cashier's screen to let one request through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    /// The manager's user id.
    #[ts(type = "number")]
    pub user: i64,
    pub pin: String,
}

#[derive(Debug, Clone)]
struct Session {
    user: i64,
    name: String,
    role: Role,
    operator: u32,
    last_seen: Instant,
}

/// Users, sessions and approvals of one checkout.
#[derive(Debug)]
pub struct Auth {
    rules: AccessSettings,
    /// Devices are configured: training users are refused.
    production: bool,
    sessions: Mutex<HashMap<String, Session>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Check a PIN off the async runtime's threads (argon2 takes a while on
/// purpose).
async fn verify_pin(pin: &str, hash: &str) -> bool {
    let (pin, hash) = (pin.to_string(), hash.to_string());
    tokio::task::spawn_blocking(move || pin::verify(&pin, &hash))
        .await
        .unwrap_or(false)
}

async fn hash_pin(p: &str) -> Result<String> {
    pin::check_shape(p)?;
    let p = p.to_string();
    tokio::task::spawn_blocking(move || pin::hash(&p))
        .await
        .map_err(|e| Error::Internal(e.to_string()))?
}

fn check_name(name: &str) -> Result<String> {
    let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
    let n = name.chars().count();
    if !(1..=40).contains(&n) || name.chars().any(char::is_control) {
        return Err(Error::InvalidRequest("a name is 1 to 40 characters".into()));
    }
    Ok(name)
}

fn check_operator(n: u32) -> Result<u32> {
    if (1..=30).contains(&n) {
        Ok(n)
    } else {
        Err(Error::InvalidRequest(
            "the fiscal operator is a number from 1 to 30".into(),
        ))
    }
}

impl Auth {
    /// The rules `rules`; `production` refuses training users.
    pub fn new(rules: AccessSettings, production: bool) -> Self {
        Auth {
            rules,
            production,
            sessions: Mutex::new(HashMap::new()),
        }
    }

    /// The rules in force.
    pub fn rules(&self) -> &AccessSettings {
        &self.rules
    }

    fn usable(&self, u: &UserRecord) -> bool {
        u.active && !(self.production && u.training)
    }

    /// In demo mode with nobody yet: create the training users.
    pub fn seed_training(&self, j: &Journal, now: DateTime<Utc>) -> Result<()> {
        if self.production || !j.read(users::all)?.is_empty() {
            return Ok(());
        }
        let at = now.to_rfc3339();
        let hashes = TRAINING
            .iter()
            .map(|(_, _, p, _)| pin::hash(p))
            .collect::<Result<Vec<_>>>()?;
        j.write(|tx| {
            for ((name, role, _, operator), hash) in TRAINING.iter().zip(&hashes) {
                let id = users::insert(
                    tx,
                    &users::NewUser {
                        name,
                        role: *role,
                        pin_hash: hash,
                        operator: *operator,
                        training: true,
                    },
                    &at,
                )?;
                audit::append(
                    tx,
                    &AuditEntry {
                        actor: "kasa",
                        action: "user.create",
                        operation: None,
                        reason: Some("demo mode's training user"),
                        change: Some(serde_json::json!({
                            "user": id, "name": name, "role": users::role_name(*role),
                            "operator": operator, "training": true
                        })),
                    },
                    &at,
                )?;
            }
            Ok(())
        })
    }

    /// What the login screen offers.
    pub fn options(&self, j: &Journal) -> Result<LoginOptions> {
        let all = j.read(users::active)?;
        let usable: Vec<&UserRecord> = all.iter().filter(|u| self.usable(u)).collect();
        let training = if self.production {
            Vec::new()
        } else {
            usable
                .iter()
                .filter(|u| u.training)
                .filter_map(|u| {
                    TRAINING
                        .iter()
                        .find(|t| t.0 == u.name && t.1 == u.role)
                        .map(|t| TrainingPin {
                            user: u.id,
                            name: u.name.clone(),
                            role: u.role,
                            pin: t.2.to_string(),
                        })
                })
                .collect()
        };
        Ok(LoginOptions {
            first_run: usable.is_empty(),
            users: usable
                .iter()
                .map(|u| LoginUser {
                    id: u.id,
                    name: u.name.clone(),
                    role: u.role,
                })
                .collect(),
            training,
        })
    }

    /// The caller a session token stands for (none, unknown or expired:
    /// nobody).
    pub fn caller(&self, token: Option<&str>) -> Caller {
        let Some(token) = token else {
            return Caller::nobody();
        };
        let mut sessions = lock(&self.sessions);
        let now = Instant::now();
        sessions.retain(|_, s| now.duration_since(s.last_seen) < SESSION_IDLE);
        match sessions.get_mut(token) {
            Some(s) => {
                s.last_seen = now;
                Caller::user(s.user, &s.name, s.role, s.operator, token)
            }
            None => Caller::nobody(),
        }
    }

    fn session_view(&self, u: &UserRecord) -> SessionView {
        SessionView {
            user: UserView::from(u),
            refund_approval_above: self.rules.refund_approval_above,
        }
    }

    /// The caller's session.
    pub fn whoami(&self, j: &Journal, caller: &Caller) -> Result<SessionState> {
        let session = match caller.user {
            Some(id) => j
                .read(|c| users::get(c, id))?
                .map(|u| self.session_view(&u)),
            None => None,
        };
        Ok(SessionState { session })
    }

    /// Check `pin` for user `id` (`what`: `login` or `approve`), counting
    /// wrong PINs toward a lockout; every outcome but a success of an
    /// approval is audited here.
    async fn check_pin(
        &self,
        j: &Journal,
        now: DateTime<Utc>,
        id: i64,
        pin: &str,
        what: &str,
    ) -> Result<UserRecord> {
        let u = j
            .read(|c| users::get(c, id))?
            .filter(|u| self.usable(u))
            .ok_or_else(|| Error::NotFound(format!("user {id}")))?;
        let at = now.to_rfc3339();
        if let Some(until) = &u.locked_until {
            if until.as_str() > at.as_str() {
                return Err(Error::LockedOut {
                    until: until.clone(),
                });
            }
        }
        if verify_pin(pin, &u.pin_hash).await {
            if u.failed_pins > 0 || u.locked_until.is_some() {
                j.write(|tx| users::set_failures(tx, u.id, 0, None, &at))?;
            }
            return Ok(u);
        }
        let failed = u.failed_pins + 1;
        let limit = self.rules.lockout_after.max(1);
        let locked = (failed >= limit).then(|| {
            (now + chrono::Duration::seconds(
                i64::try_from(self.rules.lockout_seconds).unwrap_or(i64::MAX / 2),
            ))
            .to_rfc3339()
        });
        j.write(|tx| {
            users::set_failures(
                tx,
                u.id,
                if locked.is_some() { 0 } else { failed },
                locked.as_deref(),
                &at,
            )?;
            audit::append(
                tx,
                &AuditEntry {
                    actor: &u.name,
                    action: &format!("{what}.wrong_pin"),
                    operation: None,
                    reason: None,
                    change: Some(serde_json::json!({ "user": u.id, "failed": failed })),
                },
                &at,
            )?;
            if let Some(until) = &locked {
                audit::append(
                    tx,
                    &AuditEntry {
                        actor: &u.name,
                        action: "lockout",
                        operation: None,
                        reason: Some(&format!("{failed} wrong PINs in a row")),
                        change: Some(serde_json::json!({ "user": u.id, "locked_until": until })),
                    },
                    &at,
                )?;
            }
            Ok(())
        })?;
        match locked {
            Some(until) => Err(Error::LockedOut { until }),
            None => Err(Error::WrongPin {
                left: limit - failed,
            }),
        }
    }

    fn start_session(&self, u: &UserRecord) -> Result<String> {
        let token = pin::token()?;
        lock(&self.sessions).insert(
            token.clone(),
            Session {
                user: u.id,
                name: u.name.clone(),
                role: u.role,
                operator: u.operator,
                last_seen: Instant::now(),
            },
        );
        Ok(token)
    }

    /// Log in; returns the session and its token.
    pub async fn login(
        &self,
        j: &Journal,
        now: DateTime<Utc>,
        req: &LoginRequest,
    ) -> Result<(SessionView, String)> {
        let u = self.check_pin(j, now, req.user, &req.pin, "login").await?;
        let token = self.start_session(&u)?;
        j.audit(
            &AuditEntry {
                actor: &u.name,
                action: "login",
                operation: None,
                reason: None,
                change: Some(serde_json::json!({
                    "user": u.id, "role": users::role_name(u.role)
                })),
            },
            &now.to_rfc3339(),
        )?;
        Ok((self.session_view(&u), token))
    }

    /// End the caller's session.
    pub fn logout(&self, j: &Journal, now: DateTime<Utc>, caller: &Caller) -> Result<()> {
        let Some(token) = &caller.session else {
            return Ok(());
        };
        if lock(&self.sessions).remove(token).is_some() {
            j.audit(
                &AuditEntry {
                    actor: &caller.actor,
                    action: "logout",
                    operation: None,
                    reason: None,
                    change: Some(serde_json::json!({ "user": caller.user })),
                },
                &now.to_rfc3339(),
            )?;
        }
        Ok(())
    }

    /// The first run: create the first manager and log in as them.
    pub async fn first_manager(
        &self,
        j: &Journal,
        now: DateTime<Utc>,
        req: &FirstManagerRequest,
    ) -> Result<(SessionView, String)> {
        let name = check_name(&req.name)?;
        let hash = hash_pin(&req.pin).await?;
        let at = now.to_rfc3339();
        let id = j.write(|tx| {
            let others = users::active(tx)?;
            if others.iter().any(|u| self.usable(u)) {
                return Err(Error::NotAllowed(
                    "there are users already: a manager creates the next ones".into(),
                ));
            }
            let id = users::insert(
                tx,
                &users::NewUser {
                    name: &name,
                    role: Role::Manager,
                    pin_hash: &hash,
                    operator: 1,
                    training: false,
                },
                &at,
            )?;
            audit::append(
                tx,
                &AuditEntry {
                    actor: &name,
                    action: "user.first_manager",
                    operation: None,
                    reason: None,
                    change: Some(serde_json::json!({
                        "user": id, "name": name, "role": "manager", "operator": 1
                    })),
                },
                &at,
            )?;
            Ok(id)
        })?;
        let u = j
            .read(|c| users::get(c, id))?
            .ok_or_else(|| Error::Internal("the new manager is gone".into()))?;
        let token = self.start_session(&u)?;
        Ok((self.session_view(&u), token))
    }

    /// Every user (a manager's list).
    pub fn users(&self, j: &Journal) -> Result<UserList> {
        Ok(UserList {
            users: j
                .read(users::all)?
                .iter()
                .filter(|u| !(self.production && u.training))
                .map(UserView::from)
                .collect(),
        })
    }

    /// Create or change a user. Nobody gives a role above their own, nor
    /// changes a user whose role is above their own.
    pub async fn save_user(
        &self,
        j: &Journal,
        now: DateTime<Utc>,
        caller: &Caller,
        req: &SaveUserRequest,
    ) -> Result<UserView> {
        let mine = caller.role.ok_or(Error::LoginRequired)?;
        let name = check_name(&req.name)?;
        let operator = check_operator(req.operator)?;
        if req.role > mine {
            return Err(Error::NotAllowed(format!(
                "only an installer gives the {} role",
                users::role_name(req.role)
            )));
        }
        let hash = match &req.pin {
            Some(p) => Some(hash_pin(p).await?),
            None => None,
        };
        let at = now.to_rfc3339();
        let id = j.write(|tx| {
            let (id, action, before) = match req.id {
                None => {
                    let hash = hash.as_deref().ok_or_else(|| {
                        Error::InvalidRequest("a new user needs a PIN".into())
                    })?;
                    let id = users::insert(
                        tx,
                        &users::NewUser {
                            name: &name,
                            role: req.role,
                            pin_hash: hash,
                            operator,
                            training: false,
                        },
                        &at,
                    )?;
                    if !req.active {
                        let change = users::UserChange {
                            name: &name,
                            role: req.role,
                            operator,
                            active: false,
                            pin_hash: None,
                        };
                        users::update(tx, id, &change, &at)?;
                    }
                    (id, "user.create", None)
                }
                Some(id) => {
                    let old = users::get(tx, id)?
                        .filter(|u| !(self.production && u.training))
                        .ok_or_else(|| Error::NotFound(format!("user {id}")))?;
                    if old.role > mine {
                        return Err(Error::NotAllowed(format!(
                            "only an installer changes a user with the {} role",
                            users::role_name(old.role)
                        )));
                    }
                    if caller.user == Some(id) && (!req.active || req.role < old.role) {
                        return Err(Error::NotAllowed(
                            "nobody removes or lowers their own role".into(),
                        ));
                    }
                    let change = users::UserChange {
                        name: &name,
                        role: req.role,
                        operator,
                        active: req.active,
                        pin_hash: hash.as_deref(),
                    };
                    users::update(tx, id, &change, &at)?;
                    (id, "user.update", Some(UserView::from(&old)))
                }
            };
            audit::append(
                tx,
                &AuditEntry {
                    actor: &caller.actor,
                    action,
                    operation: None,
                    reason: None,
                    change: Some(serde_json::json!({
                        "user": id,
                        "before": before.map(|b| serde_json::json!({
                            "name": b.name, "role": b.role, "operator": b.operator, "active": b.active
                        })),
                        "name": name, "role": users::role_name(req.role), "operator": operator,
                        "active": req.active, "pin_changed": hash.is_some()
                    })),
                },
                &at,
            )?;
            Ok(id)
        })?;
        let u = j
            .read(|c| users::get(c, id))?
            .ok_or_else(|| Error::Internal("the user is gone".into()))?;
        // Sessions of the user follow the change; a removed user is logged out.
        lock(&self.sessions).retain(|_, s| s.user != id || u.active);
        for s in lock(&self.sessions).values_mut().filter(|s| s.user == id) {
            s.name = u.name.clone();
            s.role = u.role;
            s.operator = u.operator;
        }
        Ok(UserView::from(&u))
    }

    /// Remember the caller's language.
    pub fn set_language(
        &self,
        j: &Journal,
        now: DateTime<Utc>,
        caller: &Caller,
        language: &str,
    ) -> Result<SessionState> {
        if !LANGUAGES.contains(&language) {
            return Err(Error::InvalidRequest(format!(
                "the language is one of {}",
                LANGUAGES.join(", ")
            )));
        }
        let id = caller.user.ok_or(Error::LoginRequired)?;
        j.write(|tx| users::set_language(tx, id, language, &now.to_rfc3339()))?;
        self.whoami(j, caller)
    }

    /// Let a request through that needs a manager: nothing to do for a
    /// manager (or above) or when `needed` is false; otherwise a manager's
    /// PIN must come with it. A PIN that comes is checked in any case (a
    /// wrong one is refused, and counts towards a lockout). The approval is
    /// audited, with what it was for.
    /// Returns the approver's name.
    pub async fn approve(
        &self,
        j: &Journal,
        now: DateTime<Utc>,
        caller: &Caller,
        approval: Option<&Approval>,
        needed: bool,
        what: serde_json::Value,
    ) -> Result<Option<String>> {
        // A PIN given is always checked: a manager's own screens ask for it
        // again before money goes back, so an open session alone is not enough.
        let Some(a) = approval else {
            if !needed || caller.role >= Some(Role::Manager) {
                return Ok(None);
            }
            return Err(Error::ApprovalRequired(what.to_string()));
        };
        let approver = self.check_pin(j, now, a.user, &a.pin, "approve").await?;
        if approver.role < Role::Manager {
            return Err(Error::NotAllowed(format!(
                "{} is not a manager and cannot approve",
                approver.name
            )));
        }
        j.audit(
            &AuditEntry {
                actor: &approver.name,
                action: "approve",
                operation: None,
                reason: None,
                change: Some(serde_json::json!({
                    "approver": approver.id, "for": caller.actor, "for_user": caller.user,
                    "request": what
                })),
            },
            &now.to_rfc3339(),
        )?;
        Ok(Some(approver.name))
    }
}
