//! The HTTP face of `kasa serve`: a JSON API, server-sent events for progress,
//! and the built UI as static files. Bound to loopback unless configured
//! otherwise.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Json;
pub use axum::Router;
use futures::Stream;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::StreamExt;
use tower_http::services::{ServeDir, ServeFile};

use crate::api::{ApiError, AppInfo, CardSaleRequest, ErrorCode, ReceiptTape};
use crate::{Checkout, Error};

/// The largest request body the API reads.
const MAX_BODY: usize = 16 * 1024;

/// The API and UI as one router.
pub fn router(checkout: Arc<Checkout>, ui_dir: Option<PathBuf>) -> Router {
    let api = Router::new()
        .route("/api/info", get(info))
        .route("/api/sales/card", post(pay_by_card))
        .route("/api/events", get(events))
        .route("/api/tape", get(tape))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
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

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let status = match self.0.code {
            ErrorCode::InvalidAmount | ErrorCode::InvalidRequest => StatusCode::BAD_REQUEST,
            ErrorCode::Busy => StatusCode::CONFLICT,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::TerminalError | ErrorCode::FiscalError => StatusCode::BAD_GATEWAY,
            ErrorCode::Storage | ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        };
        (status, Json(self.0)).into_response()
    }
}

async fn info(State(c): State<Arc<Checkout>>) -> Json<AppInfo> {
    Json(c.info())
}

/// Read the sale request leniently enough to explain what is wrong with it:
/// a number is taken as its decimal text, anything else is refused.
fn card_sale_request(body: &[u8]) -> Result<CardSaleRequest, Error> {
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| Error::InvalidRequest(format!("the body is not JSON: {e}")))?;
    let amount = match value.get("amount") {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Number(n)) => n.to_string(),
        Some(_) => {
            return Err(Error::InvalidAmount(
                "the amount must be text such as \"12.50\"".into(),
            ))
        }
        None => return Err(Error::InvalidAmount("the amount is missing".into())),
    };
    Ok(CardSaleRequest { amount })
}

async fn pay_by_card(State(c): State<Arc<Checkout>>, body: Bytes) -> Result<Response, HttpError> {
    let req = card_sale_request(&body)?;
    let result = c.pay_by_card(&req).await?;
    Ok(Json(result).into_response())
}

#[derive(Debug, serde::Deserialize)]
struct TapeQuery {
    last: Option<usize>,
}

async fn tape(
    State(c): State<Arc<Checkout>>,
    axum::extract::Query(q): axum::extract::Query<TapeQuery>,
) -> Json<ReceiptTape> {
    Json(c.receipt_tape(q.last.unwrap_or(5).min(100)))
}

async fn events(
    State(c): State<Arc<Checkout>>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let stream = BroadcastStream::new(c.subscribe()).filter_map(|ev| {
        let ev = ev.ok()?;
        let json = serde_json::to_string(&ev).ok()?;
        Some(Ok(Event::default().data(json)))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_read_as_their_text() {
        assert_eq!(
            card_sale_request(br#"{"amount":12.5}"#).unwrap().amount,
            "12.5"
        );
        assert_eq!(
            card_sale_request(br#"{"amount":"abc"}"#).unwrap().amount,
            "abc"
        );
        assert!(matches!(
            card_sale_request(b"{}"),
            Err(Error::InvalidAmount(_))
        ));
        assert!(matches!(
            card_sale_request(b"not json"),
            Err(Error::InvalidRequest(_))
        ));
        assert!(matches!(
            card_sale_request(br#"{"amount":[1]}"#),
            Err(Error::InvalidAmount(_))
        ));
    }
}
