//! `prod-lens collect --listen ADDR`: an OTLP/HTTP receiver writing through the ingest pipeline.
//!
//! Requests are handled one at a time: a body is read (size-limited), decoded, priced, and
//! committed to the store before the 200 is sent, so an acknowledged batch is never lost. A body that
//! cannot be decoded gets a 400 and is written to the dead-letter queue; the server keeps serving.

use crate::cli::CollectArgs;
use anyhow::Context;
use prod_lens::collect::{self, Encoding, Signal};
use prod_lens::normalise;
use prod_lens::pricing::Pricer;
use prod_lens::sinks::dead_letter::DeadLetterWriter;
use prod_lens::store::prelude::*;
use prod_lens::store::StoreLocation;
use std::io::Read;

/// Runs the receiver until the process is stopped.
pub fn run(db: &StoreLocation, args: CollectArgs) -> anyhow::Result<()> {
    let mut opts = prod_lens::ingest::IngestOptions::new(
        args.dead_letter_dir
            .clone()
            .unwrap_or_else(|| super::ingest_traces::default_dead_letter_dir(db)),
    );
    opts.default_repo = args
        .repo
        .as_deref()
        .map(prod_lens::slug::RepoSlug::parse)
        .transpose()?;
    opts.default_price = args
        .default_price
        .as_deref()
        .map(prod_lens::pricing::parse_default_price)
        .transpose()?;
    let addr: std::net::SocketAddr = args
        .listen
        .parse()
        .map_err(|e| prod_lens::Error::InvalidArgument(format!("--listen {}: {e}", args.listen)))?;
    if !addr.ip().is_loopback() && !args.allow_remote {
        anyhow::bail!(prod_lens::Error::InvalidArgument(format!(
            "--listen {addr} is not a loopback address; add --allow-remote to accept other hosts"
        )));
    }
    let mut store = db
        .open_writer()
        .with_context(|| format!("opening database {} (--db / PRODLENS_DB)", db.name()))?;
    super::identities::save_map(store.as_mut(), args.identity_map.as_deref())?;
    let server = tiny_http::Server::http(addr)
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    let mut pricer = Pricer::new(opts.prices.clone(), opts.default_price);
    let mut dead =
        DeadLetterWriter::new(&opts.dead_letter_dir, "collect", &format!("collect {addr}"));
    let run_id = store.start_run("collect", &format!("otlp-http {addr}"))?;
    println!("listening on http://{addr} (POST /v1/traces, /v1/logs, /v1/metrics)");
    let mut seq = 0u64;
    for mut req in server.incoming_requests() {
        seq += 1;
        let (status, body, ct) = handle(
            &mut req,
            &args,
            &opts,
            store.as_mut(),
            &mut pricer,
            &mut dead,
            run_id,
            seq,
        );
        let header = tiny_http::Header::from_bytes(&b"Content-Type"[..], ct.as_bytes())
            .map_err(|()| anyhow::anyhow!("bad header"))?;
        let resp = tiny_http::Response::from_data(body)
            .with_status_code(status)
            .with_header(header);
        if let Err(e) = req.respond(resp) {
            tracing::warn!("could not answer a request: {e}");
        }
    }
    Ok(())
}

fn header<'a>(req: &'a tiny_http::Request, name: &'static str) -> Option<&'a str> {
    req.headers()
        .iter()
        .find(|h| h.field.equiv(name))
        .map(|h| h.value.as_str())
}

#[allow(clippy::too_many_arguments)]
fn handle(
    req: &mut tiny_http::Request,
    args: &CollectArgs,
    opts: &prod_lens::ingest::IngestOptions,
    store: &mut dyn WriteStore,
    pricer: &mut Pricer,
    dead: &mut DeadLetterWriter,
    run_id: i64,
    seq: u64,
) -> (u16, Vec<u8>, String) {
    let text = |s: u16, m: String| (s, m.into_bytes(), "text/plain".to_string());
    if *req.method() != tiny_http::Method::Post {
        return text(405, "only POST is served".into());
    }
    let Some(signal) = Signal::from_path(req.url()) else {
        return text(404, "use /v1/traces, /v1/logs or /v1/metrics".into());
    };
    let Some(enc) = header(req, "Content-Type").and_then(Encoding::from_content_type) else {
        return text(
            415,
            "Content-Type must be application/json or application/x-protobuf".into(),
        );
    };
    let limit = args.max_body_bytes;
    if req.body_length().is_some_and(|n| n as u64 > limit) {
        return text(413, format!("body larger than {limit} bytes"));
    }
    let mut raw = Vec::new();
    if let Err(e) = req.as_reader().take(limit + 1).read_to_end(&mut raw) {
        return text(400, format!("cannot read body: {e}"));
    }
    if raw.len() as u64 > limit {
        return text(413, format!("body larger than {limit} bytes"));
    }
    let encoding = header(req, "Content-Encoding").map(str::to_string);
    let decoded = collect::decompress(raw.clone(), encoding.as_deref(), limit)
        .and_then(|b| collect::decode(signal, enc, &b));
    let mut batch = match decoded {
        Ok(b) => b,
        Err(reason) => {
            if let Err(e) = dead.write(seq, &reason, &raw) {
                tracing::error!("dead-letter write failed: {e}");
                return text(500, "dead-letter queue unavailable".into());
            }
            return text(400, reason);
        }
    };
    for r in &mut batch.records {
        if r.repo_slug.is_none() {
            r.repo_slug = opts.default_repo.as_ref().map(|s| s.as_str().to_string());
        }
        pricer.apply(r);
        r.dedupe_key = normalise::dedupe_key(r);
    }
    let rejected = batch.dead.len() as i64;
    if rejected > 0 {
        if let Err(e) = dead.write(seq, &batch.dead.join("; "), &raw) {
            tracing::error!("dead-letter write failed: {e}");
        }
    }
    let committed = store
        .insert_traces(&batch.records, Some(run_id))
        .and_then(|_| store.insert_activity(&batch.activity, Some(run_id)));
    if let Err(e) = committed {
        tracing::error!("store write failed: {e}");
        return text(503, "store unavailable; retry".into());
    }
    let body = collect::response(signal, enc, rejected, &batch.dead.join("; "));
    (200, body, enc.content_type().to_string())
}
