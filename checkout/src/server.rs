//! The HTTP face of `kasa serve`: every declared command at
//! `POST /api/cmd/<name>` (from [`crate::commands`]), server-sent events at
//! `GET /api/events`, finished exports at `GET /api/exports/<id>` (a
//! manager's session; see [`crate::export`]), and the built UI as static
//! files.
//!
//! Only the shop's own page may drive it:
//! - the `Host` header must be a name Kasa serves (`localhost`, an IP
//!   address, or a name the installer allowed), against DNS rebinding;
//! - a request that changes state is a `POST` with an `application/json`
//!   body, and when the browser says where it comes from (`Origin`,
//!   `Sec-Fetch-Site`) it must be this very origin, so a form or a script
//!   on another site cannot start a sale;
//! - the logged-in user's session is a cookie `HttpOnly; SameSite=Strict`,
//!   and every command checks its role ([`crate::commands::dispatch`]);
//! - headers and bodies that come too slowly are cut off, bodies are
//!   limited in size, and every failure under `/api/` is a JSON
//!   `{code, message}`, 404, 405, 408, 413 and 415 included;
//! - every answer carries a Content-Security-Policy and
//!   `X-Frame-Options: DENY`.
//!
//! Bound to loopback unless told otherwise; another address is served with
//! a warning.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::Json;
pub use axum::Router;
use futures::Stream;
use http_body_util::BodyExt;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::StreamExt;
use tower_http::services::{ServeDir, ServeFile};

use crate::api::{ApiError, ErrorCode};
use crate::commands::{dispatch, SessionChange};
use crate::{Checkout, Error};

/// The largest request body the API reads.
pub const MAX_BODY: usize = 64 * 1024;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "kasa_session";

/// What the page may load and where it may connect: only this origin.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; \
    object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// How `kasa serve` guards itself.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Host names served besides `localhost` and IP addresses.
    pub allowed_hosts: Vec<String>,
    /// A request's headers must have arrived by then.
    pub header_timeout: Duration,
    /// A request's body must have arrived by then.
    pub body_timeout: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            allowed_hosts: Vec::new(),
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, Clone)]
struct AppState {
    checkout: Arc<Checkout>,
    opts: Arc<ServeOptions>,
}

/// The API and UI as one router, with the default guards.
pub fn router(checkout: Arc<Checkout>, ui_dir: Option<PathBuf>) -> Router {
    router_with(checkout, ui_dir, ServeOptions::default())
}

/// The API and UI as one router, guarded as `opts` says.
pub fn router_with(checkout: Arc<Checkout>, ui_dir: Option<PathBuf>, opts: ServeOptions) -> Router {
    let state = AppState {
        checkout,
        opts: Arc::new(opts),
    };
    let api = Router::new()
        .route(
            "/api/cmd/{name}",
            post(command).fallback(method_not_allowed),
        )
        .route("/api/events", get(events).fallback(method_not_allowed))
        .route(
            "/api/exports/{id}",
            get(export_file).fallback(method_not_allowed),
        )
        .route("/api/{*rest}", any(no_such_path))
        .with_state(state.clone());
    let app = match ui_dir {
        Some(dir) => {
            let index = dir.join("index.html");
            api.fallback_service(ServeDir::new(dir).fallback(ServeFile::new(index)))
        }
        None => api.fallback(|| async {
            (
                StatusCode::NOT_FOUND,
                "Kasa: the UI is not built (run `make run`).",
            )
        }),
    };
    app.layer(axum::middleware::from_fn_with_state(state, guard))
}

/// Bind `addr` and serve until the process ends. Prints the URL once
/// listening, and a warning when the address is not a loopback one.
pub async fn serve(
    checkout: Arc<Checkout>,
    addr: SocketAddr,
    ui_dir: Option<PathBuf>,
    opts: ServeOptions,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    if !local.ip().is_loopback() {
        eprintln!(
            "WARNING: Kasa is serving on {local}, which other machines can reach. \
             Every command needs a user's PIN, but anyone on this network can try: \
             serve on 127.0.0.1 unless the shop needs another till to reach this one."
        );
    }
    println!("Kasa is serving on http://{local}/");
    let header_timeout = opts.header_timeout;
    serve_with(
        listener,
        router_with(checkout, ui_dir, opts),
        header_timeout,
    )
    .await
}

/// Serve `app` on an already bound listener (tests bind port 0), with the
/// default header time-out.
pub async fn serve_on(listener: tokio::net::TcpListener, app: Router) -> std::io::Result<()> {
    serve_with(listener, app, ServeOptions::default().header_timeout).await
}

/// Serve `app` on `listener`, HTTP/1.1; a connection whose request headers
/// have not all come within `header_timeout` (a slow or silent client) is
/// closed.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    app: Router,
    header_timeout: Duration,
) -> std::io::Result<()> {
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                // Out of file descriptors and the like: wait, keep serving.
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        tokio::spawn(async move {
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(header_timeout);
            let conn = http.serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            if let Err(e) = conn.await {
                tracing::debug!("connection ended: {e}");
            }
        });
    }
}

/// An API error with its HTTP status.
#[derive(Debug)]
struct HttpError(StatusCode, ApiError);

impl From<Error> for HttpError {
    fn from(e: Error) -> Self {
        let api = ApiError::from(&e);
        HttpError(status_of(api.code), api)
    }
}

/// The HTTP status of an error code.
pub fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::InvalidAmount | ErrorCode::InvalidRequest | ErrorCode::InvalidSettings => {
            StatusCode::BAD_REQUEST
        }
        ErrorCode::ConfirmationRequired => StatusCode::CONFLICT,
        ErrorCode::LoginRequired | ErrorCode::WrongPin => StatusCode::UNAUTHORIZED,
        ErrorCode::NotAllowed | ErrorCode::ApprovalRequired => StatusCode::FORBIDDEN,
        ErrorCode::LockedOut => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::KeyReused
        | ErrorCode::Busy
        | ErrorCode::Unresolved
        | ErrorCode::ExportNotReady => StatusCode::CONFLICT,
        ErrorCode::NotFound | ErrorCode::UnknownCommand => StatusCode::NOT_FOUND,
        ErrorCode::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::TerminalError | ErrorCode::FiscalError => StatusCode::BAD_GATEWAY,
        ErrorCode::Storage | ErrorCode::Internal | ErrorCode::ReportFontMissing => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        (self.0, Json(self.1)).into_response()
    }
}

fn api_error(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> HttpError {
    HttpError(
        status,
        ApiError {
            code,
            message: message.into(),
            details: None,
            device_code: None,
            operation: None,
        },
    )
}

/// Whether `host` (a `Host` header) names this server: `localhost`, an IP
/// address (a page whose origin is an IP address is not a rebound name), or
/// an allowed name; any port.
pub fn host_allowed(host: &str, allowed: &[String]) -> bool {
    let host = host.trim();
    let name = if let Some(rest) = host.strip_prefix('[') {
        // An IPv6 literal.
        return rest.split_once(']').is_some_and(|(ip, port)| {
            ip.parse::<std::net::Ipv6Addr>().is_ok()
                && (port.is_empty()
                    || port
                        .strip_prefix(':')
                        .is_some_and(|p| p.parse::<u16>().is_ok()))
        });
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) if port.parse::<u16>().is_ok() => name,
            Some(_) => return false,
            None => host,
        }
    };
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<std::net::Ipv4Addr>().is_ok()
        || allowed.iter().any(|a| a.eq_ignore_ascii_case(name))
}

/// Whether an `Origin` header is this server's own origin (`host`).
fn same_origin(origin: &str, host: &str) -> bool {
    origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .is_some_and(|o| o.eq_ignore_ascii_case(host))
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
}

/// The guards every request passes, and the headers every answer carries.
async fn guard(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let headers = req.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("")
        .to_string();
    let refused = if !host_allowed(&host, &st.opts.allowed_hosts) {
        Some(api_error(
            StatusCode::FORBIDDEN,
            ErrorCode::NotAllowed,
            "this host name is not one Kasa serves",
        ))
    } else if req.method() != Method::GET && req.method() != Method::HEAD {
        let origin = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok());
        let site = headers.get("sec-fetch-site").and_then(|o| o.to_str().ok());
        if origin.is_some_and(|o| !same_origin(o, &host))
            || site.is_some_and(|s| s != "same-origin" && s != "none")
        {
            Some(api_error(
                StatusCode::FORBIDDEN,
                ErrorCode::NotAllowed,
                "only Kasa's own page may change anything",
            ))
        } else if !is_json(headers) {
            Some(api_error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorCode::InvalidRequest,
                "a request that changes anything is JSON (Content-Type: application/json)",
            ))
        } else {
            None
        }
    } else {
        None
    };
    let api = req.uri().path().starts_with("/api/");
    let mut resp = match refused {
        Some(e) => e.into_response(),
        None => next.run(req).await,
    };
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if api {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

/// The session token the request's cookie carries.
fn session_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.to_string())
}

fn session_cookie(change: &SessionChange) -> Option<HeaderValue> {
    let text = match change {
        SessionChange::Keep => return None,
        SessionChange::Start(token) => {
            format!("{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict")
        }
        SessionChange::End => {
            format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
        }
    };
    HeaderValue::from_str(&text).ok()
}

/// Read a body of at most [`MAX_BODY`] bytes within `timeout`.
async fn read_body(body: Body, timeout: Duration) -> Result<Bytes, HttpError> {
    let limited = http_body_util::Limited::new(body, MAX_BODY);
    match tokio::time::timeout(timeout, limited.collect()).await {
        Err(_) => Err(api_error(
            StatusCode::REQUEST_TIMEOUT,
            ErrorCode::InvalidRequest,
            "the request body came too slowly",
        )),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err(api_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::TooLarge,
            format!("the request is larger than {MAX_BODY} bytes"),
        )),
        Ok(Err(e)) => Err(api_error(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidRequest,
            format!("the request body could not be read: {e}"),
        )),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
    }
}

async fn command(
    State(st): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, HttpError> {
    let body = read_body(body, st.opts.body_timeout).await?;
    let caller = st.checkout.auth.caller(session_token(&headers).as_deref());
    let reply = dispatch(&st.checkout, &caller, &name, &body).await?;
    let mut resp = Json(reply.value).into_response();
    if let Some(cookie) = session_cookie(&reply.session) {
        resp.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    Ok(resp)
}

async fn method_not_allowed() -> HttpError {
    api_error(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::UnknownCommand,
        "this method is not allowed here: commands are POST, events are GET",
    )
}

async fn no_such_path(uri: Uri) -> HttpError {
    api_error(
        StatusCode::NOT_FOUND,
        ErrorCode::UnknownCommand,
        format!(
            "no such API path: {}",
            uri.path().chars().take(100).collect::<String>()
        ),
    )
}

/// A finished export's file, for a manager: sent as an attachment with its
/// type; an unknown id is a JSON 404, an unfinished one a JSON 409.
async fn export_file(
    State(st): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, HttpError> {
    let caller = st.checkout.auth.caller(session_token(&headers).as_deref());
    caller.may(crate::commands::Access::At(crate::commands::Role::Manager))?;
    let (path, name, content_type) = st.checkout.exports.file(&id)?;
    let bytes = tokio::fs::read(&path).await.map_err(Error::Io)?;
    let mut resp = Response::new(Body::from(bytes));
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

/// Progress and operation changes, for a logged-in user.
async fn events(State(st): State<AppState>, headers: HeaderMap) -> Response {
    let caller = st.checkout.auth.caller(session_token(&headers).as_deref());
    if caller.role.is_none() {
        return HttpError::from(Error::LoginRequired).into_response();
    }
    Sse::new(event_stream(&st.checkout))
        .keep_alive(KeepAlive::default())
        .into_response()
}

fn event_stream(c: &Checkout) -> impl Stream<Item = Result<Event, Infallible>> {
    BroadcastStream::new(c.engine.subscribe()).filter_map(|ev| {
        let ev = ev.ok()?;
        let json = serde_json::to_string(&ev).ok()?;
        Some(Ok(Event::default().data(json)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_that_are_served() {
        let none: Vec<String> = Vec::new();
        for ok in [
            "localhost:8640",
            "LOCALHOST",
            "127.0.0.1:8640",
            "192.168.1.20:8640",
            "[::1]:8640",
            "[::1]",
        ] {
            assert!(host_allowed(ok, &none), "{ok}");
        }
        for bad in [
            "",
            "evil.example:8640",
            "localhost.evil.example",
            "127.0.0.1.nip.io:8640",
            "[::1",
            "localhost:port",
            "kasa.shop:8640",
        ] {
            assert!(!host_allowed(bad, &none), "{bad}");
        }
        assert!(host_allowed("kasa.shop:8640", &["kasa.shop".into()]));
    }

    #[test]
    fn origins_that_are_this_server() {
        assert!(same_origin("http://127.0.0.1:8640", "127.0.0.1:8640"));
        assert!(!same_origin("http://127.0.0.1:8641", "127.0.0.1:8640"));
        assert!(!same_origin("null", "127.0.0.1:8640"));
        assert!(!same_origin("http://evil.example", "127.0.0.1:8640"));
    }
}
