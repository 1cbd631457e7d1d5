//! Authentication: a personal access token (or the Actions `GITHUB_TOKEN`),
//! or a GitHub App: an RS256 JWT (`iss` = the app id, valid 10 minutes,
//! backdated 60 s for clock drift) exchanged for an installation token with
//! `POST /app/installations/{id}/access_tokens`.  Installation tokens live
//! an hour; the bot renews them after 50 minutes.
//!
//! GitHub lets only apps create check runs: with a personal access token
//! the bot can push and open pull requests, but `POST .../check-runs` is
//! refused (403).  Use an App installation, or the Actions `GITHUB_TOKEN`
//! (itself an installation token) with `checks: write`.
//!
//! kseries signs the JWT itself (jsonwebtoken) and caches the installation
//! token by the injectable [`Clock`] rather than using octocrab's App
//! authentication, which caches by the wall clock; the exchange goes through
//! the same octocrab client as every other request.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::Method;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use octocrab::Octocrab;
use serde::{Deserialize, Serialize};
use url::Url;

use super::Secret;
use super::github::{self, Clock};

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("GitHub App private key: {0}")]
    Key(String),
    #[error("signing the GitHub App JWT: {0}")]
    Jwt(String),
    #[error("POST /app/installations/{installation}/access_tokens: {message}")]
    Exchange { installation: u64, message: String },
}

/// The claims of a GitHub App JWT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppClaims {
    pub iat: u64,
    pub exp: u64,
    pub iss: String,
}

/// A GitHub App installation.
pub struct AppAuth {
    pub app_id: u64,
    pub installation_id: u64,
    key: EncodingKey,
    cached: tokio::sync::Mutex<Option<(Secret, SystemTime)>>,
}

impl std::fmt::Debug for AppAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppAuth")
            .field("app_id", &self.app_id)
            .field("installation_id", &self.installation_id)
            .field("key", &"<redacted>")
            .finish()
    }
}

impl AppAuth {
    /// `pem`: the app's private key as GitHub hands it out (PKCS#1 or
    /// PKCS#8 PEM).
    pub fn new(app_id: u64, installation_id: u64, pem: &[u8]) -> Result<AppAuth, AuthError> {
        let key = EncodingKey::from_rsa_pem(pem).map_err(|e| AuthError::Key(e.to_string()))?;
        Ok(AppAuth {
            app_id,
            installation_id,
            key,
            cached: tokio::sync::Mutex::new(None),
        })
    }

    /// The JWT for `now`.
    pub fn jwt(&self, now: SystemTime) -> Result<Secret, AuthError> {
        let now = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let claims = AppClaims {
            iat: now.saturating_sub(60),
            exp: now + 9 * 60,
            iss: self.app_id.to_string(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &self.key)
            .map_err(|e| AuthError::Jwt(e.to_string()))?;
        Ok(Secret::new(token))
    }
}

/// How the bot authenticates to the API.
#[derive(Debug)]
pub enum Auth {
    /// A personal access token, or the Actions `GITHUB_TOKEN`.
    Token(Secret),
    App(Box<AppAuth>),
}

/// Installation tokens are valid an hour; renew them before.
const INSTALLATION_TOKEN_LIFE: Duration = Duration::from_secs(50 * 60);

#[derive(Deserialize)]
struct AccessToken {
    token: String,
}

impl Auth {
    /// The bearer token for API calls.
    pub async fn token(
        &self,
        crab: &Octocrab,
        api: &Url,
        clock: &dyn Clock,
    ) -> Result<Secret, AuthError> {
        let app = match self {
            Auth::Token(t) => return Ok(t.clone()),
            Auth::App(app) => app,
        };
        let now = clock.now();
        let mut cached = app.cached.lock().await;
        if let Some((token, until)) = cached.as_ref()
            && now < *until
        {
            return Ok(token.clone());
        }
        let jwt = app.jwt(now)?;
        let exchange = |message: String| AuthError::Exchange {
            installation: app.installation_id,
            message,
        };
        let url = api
            .join(&format!(
                "app/installations/{}/access_tokens",
                app.installation_id
            ))
            .map_err(|e| exchange(e.to_string()))?;
        let (status, _, text) = github::send(crab, Method::POST, &url, &jwt, None)
            .await
            .map_err(|e| exchange(e.to_string()))?;
        if !status.is_success() {
            return Err(exchange(format!(
                "HTTP {status}: {}",
                text.chars().take(200).collect::<String>()
            )));
        }
        let t: AccessToken = serde_json::from_str(&text)
            .map_err(|e| exchange(format!("unexpected response: {e}")))?;
        let token = Secret::new(t.token);
        *cached = Some((token.clone(), now + INSTALLATION_TOKEN_LIFE));
        Ok(token)
    }
}
