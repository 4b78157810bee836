//! Decoding OTLP/HTTP request bodies for `prod-lens collect` (OTLP specification, "OTLP/HTTP":
//! opentelemetry.io/docs/specs/otlp/#otlphttp): `POST /v1/traces | /v1/logs | /v1/metrics`,
//! `application/x-protobuf` or `application/json`, optionally gzip-compressed; answered with an
//! `Export*ServiceResponse` in the request's encoding, carrying partial-success counts. No I/O.

use crate::sources::otel::{otlp, Batch};
use flate2::read::GzDecoder;
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;
use std::io::Read;

/// The three OTLP signals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    /// `/v1/traces`.
    Traces,
    /// `/v1/logs`.
    Logs,
    /// `/v1/metrics`.
    Metrics,
}

impl Signal {
    /// The signal served at a URL path.
    pub fn from_path(path: &str) -> Option<Signal> {
        match path.split('?').next().unwrap_or("") {
            "/v1/traces" => Some(Signal::Traces),
            "/v1/logs" => Some(Signal::Logs),
            "/v1/metrics" => Some(Signal::Metrics),
            _ => None,
        }
    }
}

/// Body encoding, from `Content-Type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// `application/json`.
    Json,
    /// `application/x-protobuf`.
    Protobuf,
}

impl Encoding {
    /// The encoding of a `Content-Type`; None when unsupported.
    pub fn from_content_type(ct: &str) -> Option<Encoding> {
        let base = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match base.as_str() {
            "application/json" => Some(Encoding::Json),
            "application/x-protobuf" | "application/protobuf" => Some(Encoding::Protobuf),
            _ => None,
        }
    }

    /// The `Content-Type` of responses in this encoding.
    pub fn content_type(self) -> &'static str {
        match self {
            Encoding::Json => "application/json",
            Encoding::Protobuf => "application/x-protobuf",
        }
    }
}

/// Undoes `Content-Encoding` (`gzip` or identity), never producing more than `limit` bytes.
pub fn decompress(
    body: Vec<u8>,
    content_encoding: Option<&str>,
    limit: u64,
) -> Result<Vec<u8>, String> {
    match content_encoding.map(|s| s.trim().to_ascii_lowercase()) {
        None => Ok(body),
        Some(e) if e.is_empty() || e == "identity" => Ok(body),
        Some(e) if e == "gzip" => {
            let mut out = Vec::new();
            GzDecoder::new(&body[..])
                .take(limit + 1)
                .read_to_end(&mut out)
                .map_err(|e| format!("invalid gzip body: {e}"))?;
            if out.len() as u64 > limit {
                return Err(format!("decompressed body exceeds {limit} bytes"));
            }
            Ok(out)
        }
        Some(e) => Err(format!("unsupported Content-Encoding {e:?}")),
    }
}

/// Decodes a request body into a batch.
pub fn decode(signal: Signal, enc: Encoding, body: &[u8]) -> Result<Batch, String> {
    fn json<T: serde::de::DeserializeOwned>(b: &[u8]) -> Result<T, String> {
        serde_json::from_slice(b).map_err(|e| format!("invalid OTLP/JSON body: {e}"))
    }
    fn proto<T: Message + Default>(b: &[u8]) -> Result<T, String> {
        T::decode(b).map_err(|e| format!("invalid OTLP protobuf body: {e}"))
    }
    Ok(match (signal, enc) {
        (Signal::Traces, Encoding::Json) => otlp::traces(&json::<ExportTraceServiceRequest>(body)?),
        (Signal::Traces, Encoding::Protobuf) => {
            otlp::traces(&proto::<ExportTraceServiceRequest>(body)?)
        }
        (Signal::Logs, Encoding::Json) => otlp::logs(&json::<ExportLogsServiceRequest>(body)?),
        (Signal::Logs, Encoding::Protobuf) => otlp::logs(&proto::<ExportLogsServiceRequest>(body)?),
        (Signal::Metrics, Encoding::Json) => {
            otlp::metrics(&json::<ExportMetricsServiceRequest>(body)?)
        }
        (Signal::Metrics, Encoding::Protobuf) => {
            otlp::metrics(&proto::<ExportMetricsServiceRequest>(body)?)
        }
    })
}

/// The success response: `partial_success` is set only when items were rejected (OTLP spec).
pub fn response(signal: Signal, enc: Encoding, rejected: i64, message: &str) -> Vec<u8> {
    if rejected == 0 && enc == Encoding::Json {
        return b"{}".to_vec();
    }
    let message = message.to_string();
    macro_rules! encode {
        ($resp:expr) => {
            match enc {
                Encoding::Json => serde_json::to_vec(&$resp).unwrap_or_else(|_| b"{}".to_vec()),
                Encoding::Protobuf => $resp.encode_to_vec(),
            }
        };
    }
    match signal {
        Signal::Traces => encode!(ExportTraceServiceResponse {
            partial_success: (rejected > 0).then_some(ExportTracePartialSuccess {
                rejected_spans: rejected,
                error_message: message,
            }),
        }),
        Signal::Logs => encode!(ExportLogsServiceResponse {
            partial_success: (rejected > 0).then_some(ExportLogsPartialSuccess {
                rejected_log_records: rejected,
                error_message: message,
            }),
        }),
        Signal::Metrics => encode!(ExportMetricsServiceResponse {
            partial_success: (rejected > 0).then_some(ExportMetricsPartialSuccess {
                rejected_data_points: rejected,
                error_message: message,
            }),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{write::GzEncoder, Compression};
    use std::io::Write;

    #[test]
    fn routes_and_types() {
        assert_eq!(Signal::from_path("/v1/logs"), Some(Signal::Logs));
        assert_eq!(Signal::from_path("/v2/logs"), None);
        assert_eq!(
            Encoding::from_content_type("application/json; charset=utf-8"),
            Some(Encoding::Json)
        );
        assert_eq!(Encoding::from_content_type("text/plain"), None);
    }

    #[test]
    fn gzip_is_bounded() {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(&[b'a'; 1000]).unwrap();
        let gz = e.finish().unwrap();
        assert_eq!(
            decompress(gz.clone(), Some("gzip"), 1000).unwrap().len(),
            1000
        );
        assert!(decompress(gz, Some("gzip"), 999).is_err());
        assert!(decompress(b"nope".to_vec(), Some("gzip"), 10).is_err());
        assert!(decompress(b"x".to_vec(), Some("br"), 10).is_err());
    }

    #[test]
    fn protobuf_fixture_decodes_like_json() {
        let pb = std::fs::read(format!(
            "{}/tests/fixtures/otel/otlp_traces.pb",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        let b = decode(Signal::Traces, Encoding::Protobuf, &pb).unwrap();
        assert_eq!((b.records.len(), b.skipped), (5, 3));
        assert!(decode(Signal::Traces, Encoding::Protobuf, b"\xff\xff").is_err());
        assert!(decode(Signal::Logs, Encoding::Json, b"{").is_err());
    }

    #[test]
    fn partial_success_only_when_rejected() {
        assert_eq!(
            response(Signal::Traces, Encoding::Json, 0, ""),
            b"{}".to_vec()
        );
        let v: serde_json::Value =
            serde_json::from_slice(&response(Signal::Logs, Encoding::Json, 2, "bad")).unwrap();
        assert_eq!(
            v["partialSuccess"]["rejectedLogRecords"],
            serde_json::json!(2)
        );
    }
}
