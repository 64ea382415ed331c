//! The HTTP face of `kasa serve`: every declared command at
//! `POST /api/cmd/<name>` (from [`crate::commands`]), server-sent events at
//! `GET /api/events`, and the built UI as static files. Bound to loopback
//! unless configured otherwise. Every failure under `/api/` is a JSON
//! `{code, message}`, 404 and 405 and 413 included.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::Json;
pub use axum::Router;
use futures::Stream;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::StreamExt;
use tower_http::services::{ServeDir, ServeFile};

use crate::api::{ApiError, ErrorCode};
use crate::commands::{dispatch, Caller, Role};
use crate::{Checkout, Error};

/// The largest request body the API reads.
pub const MAX_BODY: usize = 64 * 1024;

/// The API and UI as one router.
pub fn router(checkout: Arc<Checkout>, ui_dir: Option<PathBuf>) -> Router {
    let api = Router::new()
        .route(
            "/api/cmd/{name}",
            post(command).fallback(method_not_allowed),
        )
        .route("/api/events", get(events).fallback(method_not_allowed))
        .route("/api/{*rest}", any(no_such_path))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(checkout);
    match ui_dir {
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
    }
}

/// Bind `addr` and serve until the process ends. Prints the URL once listening.
pub async fn serve(
    checkout: Arc<Checkout>,
    addr: SocketAddr,
    ui_dir: Option<PathBuf>,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    println!("Kasa is serving on http://{local}/");
    serve_on(listener, router(checkout, ui_dir)).await
}

/// Serve `app` on an already bound listener (tests bind port 0).
pub async fn serve_on(listener: tokio::net::TcpListener, app: Router) -> std::io::Result<()> {
    axum::serve(listener, app).await
}

/// An API error with its HTTP status.
#[derive(Debug)]
struct HttpError(ApiError);

impl From<Error> for HttpError {
    fn from(e: Error) -> Self {
        HttpError(ApiError::from(&e))
    }
}

/// The HTTP status of an error code.
pub fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::InvalidAmount | ErrorCode::InvalidRequest => StatusCode::BAD_REQUEST,
        ErrorCode::NotAllowed => StatusCode::FORBIDDEN,
        ErrorCode::KeyReused | ErrorCode::Busy | ErrorCode::Unresolved => StatusCode::CONFLICT,
        ErrorCode::NotFound | ErrorCode::UnknownCommand => StatusCode::NOT_FOUND,
        ErrorCode::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::TerminalError | ErrorCode::FiscalError => StatusCode::BAD_GATEWAY,
        ErrorCode::Storage | ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        (status_of(self.0.code), Json(self.0)).into_response()
    }
}

fn api_error(code: ErrorCode, message: impl Into<String>) -> HttpError {
    HttpError(ApiError {
        code,
        message: message.into(),
        details: None,
        device_code: None,
        operation: None,
    })
}

async fn command(
    State(c): State<Arc<Checkout>>,
    Path(name): Path<String>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, HttpError> {
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            api_error(
                ErrorCode::TooLarge,
                format!("the request is larger than {MAX_BODY} bytes"),
            )
        } else {
            api_error(ErrorCode::InvalidRequest, e.body_text())
        }
    })?;
    let caller = Caller {
        actor: "http".into(),
        role: Role::Manager,
    };
    let value = dispatch(&c, &caller, &name, &body).await?;
    Ok(Json(value).into_response())
}

async fn method_not_allowed() -> Response {
    let e = ApiError {
        code: ErrorCode::UnknownCommand,
        message: "this method is not allowed here: commands are POST, events are GET".into(),
        details: None,
        device_code: None,
        operation: None,
    };
    (StatusCode::METHOD_NOT_ALLOWED, Json(e)).into_response()
}

async fn no_such_path(uri: Uri) -> HttpError {
    api_error(
        ErrorCode::UnknownCommand,
        format!(
            "no such API path: {}",
            uri.path().chars().take(100).collect::<String>()
        ),
    )
}

async fn events(
    State(c): State<Arc<Checkout>>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let stream = BroadcastStream::new(c.engine.subscribe()).filter_map(|ev| {
        let ev = ev.ok()?;
        let json = serde_json::to_string(&ev).ok()?;
        Some(Ok(Event::default().data(json)))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}
