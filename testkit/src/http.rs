//! A client of `kasa serve` for the tests: logs in by PIN as a demo
//! training user and sends commands with the session cookie, the way the
//! shop's own page does (same origin, JSON).

use anyhow::Context as _;
use serde_json::{json, Value};

/// The training PIN of each role (demo mode).
pub fn training_pin(role: &str) -> &'static str {
    match role {
        "cashier" => "1111",
        "manager" => "2222",
        "installer" => "3333",
        other => panic!("no training user with the role {other}"),
    }
}

/// A browser-like client of one `kasa serve`, logged in or not.
#[derive(Debug, Clone)]
pub struct Api {
    pub url: String,
    /// `kasa_session=…`, once logged in.
    pub cookie: Option<String>,
    client: reqwest::Client,
}

impl Api {
    /// Nobody logged in.
    pub fn anonymous(url: &str) -> Self {
        Self {
            url: url.to_string(),
            cookie: None,
            client: reqwest::Client::new(),
        }
    }

    /// Logged in as the training user with `role`.
    pub async fn login(url: &str, role: &str) -> anyhow::Result<Self> {
        let mut api = Self::anonymous(url);
        let (status, options) = api.post("login_options", json!({})).await?;
        anyhow::ensure!(status == 200, "login_options: {options}");
        let user = options["training"]
            .as_array()
            .and_then(|t| t.iter().find(|u| u["role"] == role))
            .and_then(|u| u["user"].as_i64())
            .with_context(|| format!("no training {role} in {options}"))?;
        let r = api
            .request("login")
            .json(&json!({ "user": user, "pin": training_pin(role) }))
            .send()
            .await?;
        anyhow::ensure!(r.status() == 200, "login as {role}: {}", r.status());
        let set = r
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .context("login set no cookie")?
            .to_string();
        api.cookie = set.split(';').next().map(str::to_string);
        Ok(api)
    }

    /// A POST of command `name`, same-origin, with the session cookie.
    pub fn request(&self, name: &str) -> reqwest::RequestBuilder {
        self.client_post(&format!("/api/cmd/{name}"))
    }

    /// A POST to `path`, same-origin, with the session cookie.
    pub fn client_post(&self, path: &str) -> reqwest::RequestBuilder {
        let mut r = self
            .client
            .post(format!("{}{path}", self.url))
            .header("origin", &self.url);
        if let Some(c) = &self.cookie {
            r = r.header("cookie", c);
        }
        r
    }

    /// Send command `name` with `body`: the status and the JSON answer.
    pub async fn post(&self, name: &str, body: Value) -> anyhow::Result<(u16, Value)> {
        let r = self.request(name).json(&body).send().await?;
        let status = r.status().as_u16();
        Ok((status, r.json().await.unwrap_or(Value::Null)))
    }
}
