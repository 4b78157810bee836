//! The server's error answer: an HTTP status and a JSON body `{"error": …, "parameter": …}`.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An error answered to a client, naming the query parameter at fault when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// What went wrong, for a person.
    pub message: String,
    /// The offending query parameter, when one is at fault.
    pub parameter: Option<String>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    parameter: Option<&'a str>,
}

impl ApiError {
    /// 400 for `parameter`.
    pub fn bad_parameter(parameter: &str, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            parameter: Some(parameter.to_string()),
        }
    }

    /// 404 with a message.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
            parameter: None,
        }
    }

    /// 403 with a message (a view the store's privacy setting hides).
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::FORBIDDEN,
            message: message.into(),
            parameter: None,
        }
    }

    /// 500; the detail goes to the log, the client sees a generic message.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!("request failed: {detail}");
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: "internal error (see the server log)".into(),
            parameter: None,
        }
    }

    /// The JSON body.
    pub fn body(&self) -> String {
        serde_json::to_string(&Body {
            error: &self.message,
            parameter: self.parameter.as_deref(),
        })
        .unwrap_or_else(|_| r#"{"error":"internal error"}"#.into())
    }
}

impl From<crate::Error> for ApiError {
    fn from(e: crate::Error) -> Self {
        match e {
            crate::Error::InvalidArgument(m) => Self {
                status: StatusCode::BAD_REQUEST,
                message: m,
                parameter: None,
            },
            other => Self::internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            self.body(),
        )
            .into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_names_the_parameter_only_when_there_is_one() {
        let e = ApiError::bad_parameter("since", "since \"x\": use YYYY-MM-DD");
        let v: serde_json::Value = serde_json::from_str(&e.body()).unwrap();
        assert_eq!(v["parameter"], "since");
        assert_eq!(v["error"], "since \"x\": use YYYY-MM-DD");
        let v: serde_json::Value =
            serde_json::from_str(&ApiError::not_found("no such route").body()).unwrap();
        assert!(v.get("parameter").is_none());
    }
}
