//! Rows of the `users` table: who may log in, with which role, as which
//! fiscal operator, and how many wrong PINs in a row they typed.

use rusqlite::{params, Connection, OptionalExtension, Row, Transaction};

use crate::commands::Role;
use crate::{Error, Result};

/// A user as stored (with the PIN's hash, which never leaves this crate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub pin_hash: String,
    pub operator: u32,
    pub language: Option<String>,
    pub training: bool,
    pub active: bool,
    pub failed_pins: u32,
    pub locked_until: Option<String>,
}

const COLUMNS: &str =
    "id, name, role, pin_hash, operator, language, training, active, failed_pins, locked_until";

pub(crate) fn role_name(r: Role) -> &'static str {
    match r {
        Role::Cashier => "cashier",
        Role::Manager => "manager",
        Role::Installer => "installer",
    }
}

fn parse_role(s: &str) -> Option<Role> {
    Some(match s {
        "cashier" => Role::Cashier,
        "manager" => Role::Manager,
        "installer" => Role::Installer,
        _ => return None,
    })
}

fn from_row(r: &Row<'_>) -> rusqlite::Result<UserRecord> {
    let role: String = r.get(2)?;
    Ok(UserRecord {
        id: r.get(0)?,
        name: r.get(1)?,
        role: parse_role(&role).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                2,
                rusqlite::types::Type::Text,
                format!("role {role:?}").into(),
            )
        })?,
        pin_hash: r.get(3)?,
        operator: r.get(4)?,
        language: r.get(5)?,
        training: r.get::<_, i64>(6)? != 0,
        active: r.get::<_, i64>(7)? != 0,
        failed_pins: r.get(8)?,
        locked_until: r.get(9)?,
    })
}

/// One user by id.
pub fn get(c: &Connection, id: i64) -> Result<Option<UserRecord>> {
    Ok(
        c.prepare_cached(&format!("SELECT {COLUMNS} FROM users WHERE id = ?1"))?
            .query_row([id], from_row)
            .optional()?,
    )
}

/// The active users, by name.
pub fn active(c: &Connection) -> Result<Vec<UserRecord>> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM users WHERE active = 1 ORDER BY name, id"
    ))?;
    let rows = stmt.query_map([], from_row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Every user, active ones first.
pub fn all(c: &Connection) -> Result<Vec<UserRecord>> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM users ORDER BY active DESC, name, id"
    ))?;
    let rows = stmt.query_map([], from_row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// A user to create.
#[derive(Debug, Clone)]
pub struct NewUser<'a> {
    pub name: &'a str,
    pub role: Role,
    pub pin_hash: &'a str,
    pub operator: u32,
    pub training: bool,
}

/// Create a user; returns the id. A name an active user has is refused.
pub fn insert(tx: &Transaction<'_>, u: &NewUser<'_>, at: &str) -> Result<i64> {
    tx.prepare_cached(
        "INSERT INTO users (name, role, pin_hash, operator, training, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
    )?
    .execute(params![
        u.name,
        role_name(u.role),
        u.pin_hash,
        u.operator,
        i64::from(u.training),
        at
    ])
    .map_err(|e| name_taken(e, u.name))?;
    Ok(tx.last_insert_rowid())
}

fn name_taken(e: rusqlite::Error, name: &str) -> Error {
    match &e {
        rusqlite::Error::SqliteFailure(f, _)
            if f.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            Error::NotAllowed(format!("a user called {name:?} exists already"))
        }
        _ => Error::Storage(e),
    }
}

/// What a change of a user sets.
#[derive(Debug, Clone)]
pub struct UserChange<'a> {
    pub name: &'a str,
    pub role: Role,
    pub operator: u32,
    pub active: bool,
    /// A new PIN's hash (it also clears a lockout), or keep the PIN.
    pub pin_hash: Option<&'a str>,
}

/// Change a user's name, role, operator, activity and (when given) PIN
/// hash; a new PIN also clears a lockout.
pub fn update(tx: &Transaction<'_>, id: i64, u: &UserChange<'_>, at: &str) -> Result<()> {
    let UserChange {
        name,
        role,
        operator,
        active,
        pin_hash,
    } = *u;
    tx.prepare_cached(
        "UPDATE users SET name = ?2, role = ?3, operator = ?4, active = ?5,
            pin_hash = COALESCE(?6, pin_hash),
            failed_pins = CASE WHEN ?6 IS NOT NULL THEN 0 ELSE failed_pins END,
            locked_until = CASE WHEN ?6 IS NOT NULL THEN NULL ELSE locked_until END,
            updated_at = ?7
         WHERE id = ?1",
    )?
    .execute(params![
        id,
        name,
        role_name(role),
        operator,
        i64::from(active),
        pin_hash,
        at
    ])
    .map_err(|e| name_taken(e, name))?;
    Ok(())
}

/// Record the outcome of a PIN check: the count of wrong PINs in a row and
/// the end of a lockout.
pub fn set_failures(
    tx: &Transaction<'_>,
    id: i64,
    failed: u32,
    locked_until: Option<&str>,
    at: &str,
) -> Result<()> {
    tx.prepare_cached(
        "UPDATE users SET failed_pins = ?2, locked_until = ?3, updated_at = ?4 WHERE id = ?1",
    )?
    .execute(params![id, failed, locked_until, at])?;
    Ok(())
}

/// Remember the language a user chose.
pub fn set_language(tx: &Transaction<'_>, id: i64, language: &str, at: &str) -> Result<()> {
    tx.prepare_cached("UPDATE users SET language = ?2, updated_at = ?3 WHERE id = ?1")?
        .execute(params![id, language, at])?;
    Ok(())
}
