//! Talking to Microsoft Graph: `$batch` wire types and response parsing, user-key encoding,
//! the HTTP client, Graph error bodies, token sources and refresh, national-cloud endpoints.
//! Knows nothing about jobs or rows.
//!
//! # Layout
//! - this file: the shared types (`BatchItem`, `ItemResponse`, `GraphError`, `BatchError`).
//! - `batch`: the `$batch` request body and the parsing of its response;
//!   `batch_answers`: reading the response's answers field by field (only what is used).
//! - `user_key`: a user's object id or UPN → the relative URL path.
//! - `error_body`: Graph error bodies → [`GraphError`].
//! - `cloud`: national-cloud hosts and the check of base URLs given by flags.
//! - `token`: access tokens: static, client credentials (secret or certificate) or a
//!   delegated device-code sign-in, cached and renewed.
//! - `certificate`: the certificate-and-key file (PEM or PFX), its checks, the
//!   client-assertion JWT.
//! - `pfx`: opening PFX/PKCS#12 files (their MAC and the bags' encryptions).
//! - `federated`: workload identity federation's token file, read at every renewal.
//! - `managed_identity`: tokens from a VM's metadata service or App Service's endpoint.
//! - `azure_cli`: tokens from `az account get-access-token`.
//! - `device_code`: the device-code sign-in's polling and its refresh-token renewal.
//! - `client`: the HTTP client sending batches and mapping outer failures to [`BatchError`].
//! - `retry_class`: what a status means for sending again, one rule for a batch and its items.
//! - `request_id`: fresh `client-request-id` values.

mod azure_cli;
mod batch;
mod batch_answers;
mod certificate;
mod client;
mod cloud;
mod device_code;
mod error_body;
mod federated;
mod managed_identity;
mod pfx;
mod request_id;
mod retry_class;
mod token;
mod user_key;

#[cfg(test)]
mod test_support;

use std::time::Duration;

pub(crate) use batch::BatchReply;
pub(crate) use certificate::{AssertionAlg, CertificateKey};
pub(crate) use client::GraphClient;
pub(crate) use cloud::{Cloud, validate_base_url};
pub(crate) use device_code::DevicePrompt;
pub(crate) use managed_identity::{ManagedIdentityEndpoint, validate_identity_endpoint};
pub(crate) use request_id::client_request_id;
pub(crate) use retry_class::RetryClass;
pub(crate) use token::check_static_token;
pub(crate) use token::{Credential, TokenClaims, TokenSource};
pub(crate) use user_key::user_path;

use serde_json::Value;

/// Which Graph version a batch (and all its items) goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum ApiVersion {
    V1,
    Beta,
}

impl ApiVersion {
    /// The URL segment: `v1.0` (export's user listing) or `beta` (every per-user call:
    /// per-user MFA state exists only there, docs/graph.md §1).
    #[must_use]
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ApiVersion::V1 => "v1.0",
            ApiVersion::Beta => "beta",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Method {
    Get,
    Post,
    Patch,
    Delete,
}

impl Method {
    /// POST, PATCH and DELETE cost a write in Graph's identity quota.
    #[must_use]
    pub(crate) fn is_write(self) -> bool {
        !matches!(self, Method::Get)
    }
}

/// One request to put in a `$batch`. `url` is relative to the version (`/users/…/authentication/requirements`).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct BatchItem {
    pub id: String,
    pub method: Method,
    pub url: String,
    /// JSON body. Writes (POST/PATCH) must carry one (`{}` when the API takes none): Graph
    /// fails the whole batch otherwise.
    pub body: Option<Value>,
    pub client_request_id: String,
    /// Sent with `ConsistencyLevel: eventual`: an advanced query (a cast, `$count`, `ne`,
    /// `endsWith` …) that Graph refuses without it, on every page (docs/graph.md §9.2, §9.4).
    pub advanced_query: bool,
}

/// The limit a 429 says was exceeded (`x-ms-throttle-scope`, docs/graph.md §6).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum ThrottleScope {
    /// This app in this tenant, or this tenant (or no scope given).
    #[default]
    Tenant,
    /// `Application/Write/…`: the app's writes across all its tenants.
    AppWrites,
    /// `Application/ReadWrite/…` (or `Read`): the app's resource units across all its tenants.
    AppUnits,
}

/// One item's answer inside a `$batch` response.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ItemResponse {
    pub id: String,
    pub status: u16,
    pub retry_after: Option<Duration>,
    pub request_id: Option<String>,
    pub client_request_id: Option<String>,
    /// `x-ms-throttle-limit-percentage` (0.8–1.8) when Graph sent it.
    pub throttle_percentage: Option<f64>,
    /// Which limit a 429's `x-ms-throttle-scope` names: this tenant's, or one of the app's
    /// across all its tenants (docs/graph.md §6).
    pub scope: ThrottleScope,
    /// The JSON body, `Value::Null` when there is none.
    pub body: Value,
}

/// A Graph error body's fields (`{"error":{"code","message","innerError":{…}}}`).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub(crate) struct GraphError {
    pub code: String,
    pub message: String,
    pub request_id: Option<String>,
    pub client_request_id: Option<String>,
}

/// Why a whole batch did not produce item answers.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BatchError {
    /// The batch itself was answered 429 or 503 (or 424, or a gateway's 502/504): wait
    /// `retry_after` (from the outer `Retry-After`, capped at 300 s) and resend every item.
    #[error("batch answered {status}")]
    Throttled {
        status: u16,
        retry_after: Option<Duration>,
    },
    /// Connection refused/reset/dropped mid-body, timeout, or an unparseable body: transient.
    #[error("{0}")]
    Transport(String),
    /// 401 even after one token renewal, or the token could not be obtained (the
    /// [`TokenError`] message): stop the run.
    #[error("{0}")]
    Auth(String),
    /// Any other non-200 outer status (e.g. 400 for a malformed batch): the items fail.
    #[error("batch answered {status}: {}: {}", error.code, error.message)]
    Rejected { status: u16, error: GraphError },
}
