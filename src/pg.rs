//! Connections to PostgreSQL: libpq's `sslmode` over rustls, and a password-free name to show.
//!
//! A URL (`postgres://user:pass@host:5432/db?sslmode=verify-full`) or a `key=value` string names
//! the server. `sslmode` and `sslrootcert` are read here, as libpq reads them, and the rest is
//! left to the `postgres` crate. The modes:
//!
//! | mode | TLS | certificate checked |
//! |---|---|---|
//! | `disable` | never | — |
//! | `prefer` (default) | when the server offers it, else plain | no |
//! | `require` | always | no; with a CA file, its chain (as `verify-ca`) |
//! | `verify-ca` | always | chain to the CA |
//! | `verify-full` | always | chain to the CA and the host name |
//!
//! The CA is `--pg-ca FILE` (`--db-ca FILE` for a `--db` store; PEM), else the URL's
//! `sslrootcert`, else the public web roots (`webpki-roots`), which managed services' own CAs
//! are often not among. The password is never part of [`PgTarget::name`] or of an error message
//! made here.

use crate::error::{Error, Result};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// How long a connection attempt may take when the URL sets no `connect_timeout`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// libpq's TLS modes, named as `sslmode=` names them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SslMode {
    /// Plain TCP only.
    Disable,
    /// TLS when the server offers it, else plain; the certificate is not checked.
    #[default]
    Prefer,
    /// TLS or fail; the certificate is checked only when a CA file is given (then as verify-ca).
    Require,
    /// TLS with a certificate chained to the CA; any host name.
    VerifyCa,
    /// TLS with a certificate chained to the CA that names the host connected to.
    VerifyFull,
}

impl SslMode {
    /// The name libpq gives the mode.
    pub fn name(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

impl FromStr for SslMode {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            // libpq's `allow` tries plain first; plain-first is never what a user wants here.
            other => {
                return Err(Error::InvalidArgument(format!(
                    "sslmode={other}: use disable, prefer, require, verify-ca or verify-full"
                )))
            }
        })
    }
}

/// A PostgreSQL server to connect to, with its TLS mode and CA, parsed from a URL.
#[derive(Clone, Debug)]
pub struct PgTarget {
    config: postgres::Config,
    mode: SslMode,
    ca: Option<PathBuf>,
    /// The option that gives the CA file, named in hints and errors.
    ca_flag: String,
    name: String,
}

/// Takes `sslmode` and `sslrootcert` out of a URL or `key=value` string: (the rest, mode, CA).
fn split_tls_params(url: &str) -> (String, Option<String>, Option<String>) {
    let (mut mode, mut ca) = (None, None);
    let mut take = |key: &str, value: String| match key {
        "sslmode" => {
            mode = Some(value);
            true
        }
        "sslrootcert" => {
            ca = Some(value);
            true
        }
        _ => false,
    };
    let rest = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        match url.split_once('?') {
            None => url.to_string(),
            Some((base, query)) => {
                let mut kept = Vec::new();
                for pair in query.split('&').filter(|p| !p.is_empty()) {
                    // One pair at a time, so every other pair keeps its own encoding.
                    let ours = form_urlencoded::parse(pair.as_bytes())
                        .next()
                        .is_some_and(|(k, v)| take(&k, v.into_owned()));
                    if !ours {
                        kept.push(pair);
                    }
                }
                if kept.is_empty() {
                    base.to_string()
                } else {
                    format!("{base}?{}", kept.join("&"))
                }
            }
        }
    } else {
        url.split_whitespace()
            .filter(|t| {
                !t.split_once('=')
                    .is_some_and(|(k, v)| take(k.trim(), v.trim_matches('\'').to_string()))
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    (rest, mode, ca)
}

impl PgTarget {
    /// Parses a `postgres://` URL or `key=value` string; `ca` (`--pg-ca`) overrides the URL's
    /// `sslrootcert`. `flag` names the option the URL came from, for error messages.
    pub fn parse(url: &str, ca: Option<&Path>, flag: &str) -> Result<Self> {
        let (rest, mode, url_ca) = split_tls_params(url);
        let mode = match mode {
            Some(m) => m.parse().map_err(|e| match e {
                Error::InvalidArgument(m) => Error::InvalidArgument(format!("{flag}: {m}")),
                e => e,
            })?,
            None => SslMode::default(),
        };
        // The parser's message never repeats the URL, so it cannot show the password.
        let mut config: postgres::Config = rest
            .parse()
            .map_err(|e: postgres::Error| Error::InvalidArgument(format!("{flag}: {e}")))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        let host = config
            .get_hosts()
            .first()
            .map(|h| match h {
                postgres::config::Host::Tcp(s) => s.clone(),
                postgres::config::Host::Unix(p) => p.display().to_string(),
            })
            .unwrap_or_else(|| "localhost".into());
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let name = format!(
            "postgres://{}@{host}:{port}/{}",
            config.get_user().unwrap_or(""),
            config.get_dbname().unwrap_or("")
        );
        Ok(PgTarget {
            config,
            mode,
            ca: ca.map(Path::to_path_buf).or(url_ca.map(PathBuf::from)),
            ca_flag: "--pg-ca".into(),
            name,
        })
    }

    /// Names the option that gives the CA file in hints and errors (`--pg-ca` unless told).
    pub fn with_ca_flag(mut self, flag: &str) -> Self {
        self.ca_flag = flag.to_string();
        self
    }

    /// The server's identity without the password: `postgres://user@host:port/dbname`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The TLS mode in force.
    pub fn mode(&self) -> SslMode {
        self.mode
    }

    /// Opens a blocking client in the target's TLS mode.
    pub fn connect(&self) -> Result<postgres::Client> {
        let mut config = self.config.clone();
        let result = if self.mode == SslMode::Disable {
            config.ssl_mode(postgres::config::SslMode::Disable);
            config.connect(postgres::NoTls)
        } else {
            config.ssl_mode(if self.mode == SslMode::Prefer {
                postgres::config::SslMode::Prefer
            } else {
                postgres::config::SslMode::Require
            });
            let tls = tokio_postgres_rustls::MakeRustlsConnect::new(self.tls_config()?);
            config.connect(tls)
        };
        result.map_err(|e| {
            let mut msg = format!(
                "connecting to {} (sslmode={}): {}",
                self.name,
                self.mode.name(),
                error_chain(&e)
            );
            if msg.contains("not valid for name") {
                msg.push_str(
                    "; connect by a host name the certificate holds, or use sslmode=verify-ca",
                );
            } else if msg.contains("invalid peer certificate") {
                msg.push_str(&format!(
                    "; give the CA that signed the server's certificate with {} FILE",
                    self.ca_flag
                ));
            }
            Error::Postgres(msg)
        })
    }

    /// The rustls settings of the mode: which certificates are accepted.
    fn tls_config(&self) -> Result<ClientConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Postgres(format!("TLS setup: {e}")))?;
        let checks_chain = match self.mode {
            SslMode::Disable | SslMode::Prefer => false,
            SslMode::Require => self.ca.is_some(),
            SslMode::VerifyCa | SslMode::VerifyFull => true,
        };
        let config = if !checks_chain {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        } else {
            let roots = Arc::new(self.roots()?);
            if self.mode == SslMode::VerifyFull {
                builder.with_root_certificates(roots)
            } else {
                let chain = WebPkiServerVerifier::builder_with_provider(roots, provider)
                    .build()
                    .map_err(|e| Error::Postgres(format!("TLS setup: {e}")))?;
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(ChainOnly(chain)))
            }
        };
        Ok(config.with_no_client_auth())
    }

    /// The trusted CAs: the given PEM file's certificates, else the public web roots.
    fn roots(&self) -> Result<RootCertStore> {
        let mut roots = RootCertStore::empty();
        let Some(path) = &self.ca else {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            return Ok(roots);
        };
        let bad = |why: String| {
            Error::InvalidArgument(format!(
                "{} {}: {why}; give a PEM file with the CA certificate",
                self.ca_flag,
                path.display()
            ))
        };
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| bad(e.to_string()))?
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| bad(e.to_string()))?;
        if certs.is_empty() {
            return Err(bad("no certificate in it".into()));
        }
        for c in certs {
            roots.add(c).map_err(|e| bad(e.to_string()))?;
        }
        Ok(roots)
    }
}

/// An error and its causes, joined: the `postgres` crate keeps the TLS reason in the source.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let s_text = s.to_string();
        if !out.contains(&s_text) {
            out.push_str(": ");
            out.push_str(&s_text);
        }
        cur = s.source();
    }
    out
}

/// Accepts any certificate (`prefer`, `require` without a CA: encryption without identity, as
/// libpq); handshake signatures are still verified.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Checks the chain to the CA but not the host name (`verify-ca`).
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_name_never_holds_the_password() {
        let t = PgTarget::parse(
            "postgres://llm:s3cret@db.internal:6543/litellm?sslmode=disable",
            None,
            "--database-url",
        )
        .unwrap();
        assert_eq!(t.name(), "postgres://llm@db.internal:6543/litellm");
        assert_eq!(t.mode(), SslMode::Disable);
        let e = PgTarget::parse("not a url", None, "--database-url").unwrap_err();
        assert!(e.to_string().starts_with("--database-url: "), "{e}");
    }

    #[test]
    fn tls_parameters_are_taken_out_and_the_rest_kept() {
        let (rest, mode, ca) = split_tls_params(
            "postgresql://u:p@h/db?application_name=a%20b&sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&connect_timeout=5",
        );
        assert_eq!(
            rest,
            "postgresql://u:p@h/db?application_name=a%20b&connect_timeout=5"
        );
        assert_eq!(mode.as_deref(), Some("verify-full"));
        assert_eq!(ca.as_deref(), Some("/etc/ca.pem"));
        let (rest, mode, ca) = split_tls_params("postgres://h/db?sslmode=require");
        assert_eq!(
            (rest.as_str(), mode.as_deref(), ca),
            ("postgres://h/db", Some("require"), None)
        );
        let (rest, mode, _) = split_tls_params("host=h user=u sslmode=verify-ca dbname=d");
        assert_eq!(
            (rest.as_str(), mode.as_deref()),
            ("host=h user=u dbname=d", Some("verify-ca"))
        );
        let t = PgTarget::parse("postgres://h/db?connect_timeout=5", None, "--db").unwrap();
        assert_eq!(t.mode(), SslMode::Prefer, "libpq's default");
        assert_eq!(
            t.config.get_connect_timeout(),
            Some(&Duration::from_secs(5))
        );
        let t = PgTarget::parse("postgres://h/db", None, "--db").unwrap();
        assert_eq!(t.config.get_connect_timeout(), Some(&CONNECT_TIMEOUT));
    }

    #[test]
    fn modes_parse_by_their_libpq_names_only() {
        for m in [
            SslMode::Disable,
            SslMode::Prefer,
            SslMode::Require,
            SslMode::VerifyCa,
            SslMode::VerifyFull,
        ] {
            assert_eq!(m.name().parse::<SslMode>().unwrap(), m);
        }
        let e = PgTarget::parse("postgres://u:pw@h/db?sslmode=allow", None, "--database-url")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("--database-url: sslmode=allow: use disable"),
            "{e}"
        );
        assert!(!e.contains("pw"));
    }

    #[test]
    fn a_flag_ca_wins_over_the_url_and_a_bad_file_is_named() {
        let t = PgTarget::parse(
            "postgres://h/db?sslmode=verify-full&sslrootcert=/url/ca.pem",
            Some(Path::new("/flag/ca.pem")),
            "--db",
        )
        .unwrap();
        assert_eq!(t.ca.as_deref(), Some(Path::new("/flag/ca.pem")));
        let e = t.roots().unwrap_err().to_string();
        assert!(e.starts_with("--pg-ca /flag/ca.pem: "), "{e}");
        let d = tempfile::tempdir().unwrap();
        let empty = d.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let t = PgTarget::parse("postgres://h/db?sslmode=verify-ca", Some(&empty), "--db").unwrap();
        assert!(t
            .roots()
            .unwrap_err()
            .to_string()
            .contains("no certificate"));
        // Without a CA the public roots are trusted.
        let t = PgTarget::parse("postgres://h/db?sslmode=verify-full", None, "--db").unwrap();
        assert!(t.roots().unwrap().len() > 50);
    }
}
