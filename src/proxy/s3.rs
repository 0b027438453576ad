//! The S3 API on the proxy: object operations are forwarded, streaming, to the target HRW
//! picks (botocore does not follow 307s); service and bucket operations are answered here
//! from the cluster's bucket list and by fanning out to the targets.

use std::sync::Arc;

use http::{HeaderValue, Method, Request, Response};
use hyper::body::Incoming;
use serde::Deserialize;
use serde_json::json;

use super::ProxyContext;
use crate::http::Body;
use crate::s3::bucket::{self, Buckets, PageSourceFor};
use crate::s3::error::{self, S3Error};
use crate::s3::list::{Entry, PageAsk, PageResult};
use crate::s3::op::{self, Style};
use crate::s3::{self as s3api, xml};
use crate::store::{UploadInfo, UploadSpec};
use crate::wire::lso::LsoMsg;

/// How a request reaches the S3 API here, if it does: `/s3/...`, a virtual host
/// `<bucket>.<s3_domain>`, or any non-native path with `s3_at_root`. Returns the path
/// relative to the S3 root and the style.
pub(super) fn s3_route(ctx: &ProxyContext, req: &Request<Incoming>) -> Option<(String, Style)> {
    let path = req.uri().path();
    if let Some(domain) = &ctx.config.settings.s3_domain {
        let host = req
            .headers()
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(|h| h.rsplit_once(':').map_or(h, |(name, _)| name))
            .unwrap_or("");
        if let Some(bucket) = host
            .strip_suffix(domain.as_str())
            .and_then(|b| b.strip_suffix('.'))
        {
            if !bucket.is_empty() {
                return Some((path.to_string(), Style::VirtualHost(bucket.to_string())));
            }
        }
    }
    if path == "/s3" || path.starts_with("/s3/") {
        return Some((path[3..].to_string(), Style::Prefixed));
    }
    let native = path.starts_with("/v1/") || path == "/metrics";
    (ctx.config.settings.s3_at_root && !native).then(|| (path.to_string(), Style::Root))
}

/// Serves an S3 request; never fails (errors become S3 XML).
pub(super) async fn handle(
    ctx: &Arc<ProxyContext>,
    req: Request<Incoming>,
    rel: String,
    style: Style,
) -> Response<Body> {
    let rid = s3api::request_id();
    let (method, path) = (req.method().clone(), req.uri().path().to_string());
    let resp = match route(ctx, req, &rel, style).await {
        Ok(r) => r,
        Err(e) => {
            ctx.metrics.err_count.inc();
            let (code, status) = e.code();
            if status.is_server_error() {
                tracing::warn!(%method, %path, code, error = %e, "S3 request failed");
            }
            error::error_response(&e, &method, &path, &rid)
        }
    };
    s3api::finish(resp, &rid)
}

async fn route(
    ctx: &Arc<ProxyContext>,
    req: Request<Incoming>,
    rel: &str,
    style: Style,
) -> Result<Response<Body>, S3Error> {
    let (bucket, key) = op::resource(rel, &style)?;
    let query = crate::http::request::query(&req);
    let parsed = op::parse(req.method(), bucket, key, query, req.headers())?;
    if parsed.is_object_op() {
        crate::names::validate_bucket(&parsed.bucket)?;
        crate::names::validate_object(&parsed.key)?;
        let smap = ctx.state.smap();
        let owner = smap
            .owner(&parsed.bucket, &parsed.key)
            .ok_or_else(|| S3Error::Unavailable("no target in the cluster map".into()))?;
        ctx.metrics.count_object_request(req.method());
        if req.headers().contains_key(&s3api::WANTS_REDIRECT) {
            return Ok(redirect(&req, owner.url(), &parsed.bucket, &style));
        }
        let mut extra = vec![(s3api::FORWARDED, HeaderValue::from_static("1"))];
        extra.extend(s3api::style_header(&style));
        return ctx
            .data
            .forward(req, owner.control_url(), &extra)
            .await
            .map_err(|e| S3Error::Upstream(e.to_string()));
    }
    let uuid = ctx.state.smap().uuid.clone();
    let keys = crate::s3::access::ClientKeys {
        s3: ctx.config.s3_credentials.as_ref(),
        token: ctx.config.intra.auth.as_ref(),
        uuid: &uuid,
    };
    crate::s3::access::verify(keys, &req, &style, &parsed)?;
    let body = crate::http::request::read_limited_within(
        req.into_body(),
        s3api::MAX_XML_BODY,
        crate::s3::XML_BODY_TIMEOUT,
    )
    .await
    .map_err(|e| S3Error::Invalid("InvalidRequest", format!("request body: {e}")))?;
    bucket::serve(&ClusterBuckets(ctx), &parsed, body).await
}

/// A 307 to the owning target, as AIStore answers S3 object requests by default: `Location`
/// and an S3 `<Error>` body naming the endpoint. For clients that follow redirects and ask
/// for them (AIStore's botocore patch with `Ais-S3-Redirect`); the target's signature check
/// then sees the target's host, so this suits clusters without S3 keys.
fn redirect(
    req: &Request<Incoming>,
    owner_url: &str,
    bucket: &str,
    style: &Style,
) -> Response<Body> {
    #[derive(serde::Serialize)]
    #[serde(rename = "Error", rename_all = "PascalCase")]
    struct Redirect<'a> {
        code: &'a str,
        message: &'a str,
        endpoint: &'a str,
        bucket: &'a str,
    }
    let path_q = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let location = match style {
        Style::Prefixed => format!("{owner_url}{path_q}"),
        Style::Root => format!("{owner_url}/s3{path_q}"),
        Style::VirtualHost(b) => format!("{owner_url}/s3/{b}{path_q}"),
    };
    let endpoint = owner_url.trim_start_matches("http://");
    let mut resp = bucket::xml_response(&Redirect {
        code: "TemporaryRedirect",
        message: "Redirect",
        endpoint,
        bucket,
    });
    *resp.status_mut() = http::StatusCode::TEMPORARY_REDIRECT;
    crate::http::request::set_header(&mut resp, http::header::LOCATION, location);
    resp
}

/// The cluster's buckets as the S3 bucket layer sees them.
struct ClusterBuckets<'a>(&'a ProxyContext);

impl PageSourceFor for ClusterBuckets<'_> {
    async fn bucket_page(&self, bucket: &str, ask: PageAsk<'_>) -> PageResult {
        let PageAsk { prefix, after, n } = ask;
        let msg = LsoMsg {
            prefix: prefix.to_string(),
            continuation_token: after.to_string(),
            props: "size,etag".into(),
            pagesize: json!(n),
            ..Default::default()
        };
        let page = super::list::list_objects(self.0, bucket, msg)
            .await
            .map_err(S3Error::from)?;
        let more = !page.continuation_token.is_empty();
        let entries = page
            .entries
            .into_iter()
            .map(|e| Entry {
                size: e.size.parse().unwrap_or(0),
                mtime_ns: e.mtime.parse().unwrap_or(0),
                etag: e.etag,
                key: e.name,
            })
            .collect();
        Ok((entries, more))
    }
}

/// A target's ListMultipartUploads answer, as far as the proxy reads it.
#[derive(Deserialize)]
struct TargetUploads {
    #[serde(rename = "Upload", default)]
    upload: Vec<TargetUpload>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TargetUpload {
    key: String,
    upload_id: String,
    initiated: String,
}

impl Buckets for ClusterBuckets<'_> {
    async fn list_buckets(&self) -> Result<Vec<(String, i64)>, S3Error> {
        Ok(self.0.state.bmd().buckets.into_iter().collect())
    }

    async fn create_bucket(&self, bucket: &str) -> Result<(), S3Error> {
        crate::names::validate_bucket(bucket)?;
        super::bucket_admin::create(self.0, bucket, "S3 client")
            .await
            .map(|_| ())
            .map_err(S3Error::from)
    }

    async fn destroy_bucket(&self, bucket: &str) -> Result<(), S3Error> {
        super::bucket_admin::destroy(self.0, bucket, "S3 client")
            .await
            .map(|_| ())
            .map_err(S3Error::from)
    }

    async fn head_bucket(&self, bucket: &str) -> Result<(), S3Error> {
        if self.0.state.has_bucket(bucket) {
            Ok(())
        } else {
            Err(S3Error::NoSuchBucket(bucket.to_string()))
        }
    }

    /// Every target's uploads (each lists its own disks), signed with our key when S3
    /// requests must be signed.
    async fn list_uploads(&self, bucket: &str) -> Result<Vec<UploadInfo>, S3Error> {
        let ctx = self.0;
        let smap = ctx.state.smap();
        let calls = smap.active_targets().map(|t| {
            let url = format!(
                "{}/s3/{bucket}?uploads=&max-uploads=1000000",
                t.control_url()
            );
            async move {
                let uri: http::Uri = url
                    .parse()
                    .map_err(|_| S3Error::Upstream(format!("bad URL {url}")))?;
                let mut req = Request::get(uri.clone())
                    .header(s3api::FORWARDED, "1")
                    .body(crate::http::forward::no_body())
                    .map_err(|e| S3Error::Upstream(e.to_string()))?;
                if let Some(host) = uri
                    .authority()
                    .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
                {
                    req.headers_mut().insert(http::header::HOST, host);
                }
                if let Some(creds) = &ctx.config.s3_credentials {
                    crate::s3::auth::sign_v4(
                        creds,
                        &Method::GET,
                        &uri,
                        req.headers_mut(),
                        crate::s3::auth::EMPTY_SHA256,
                        s3api::now_secs(),
                    );
                }
                let resp = ctx
                    .data
                    .send(req)
                    .await
                    .map_err(|e| S3Error::Upstream(format!("{}: {e}", t.daemon_id)))?;
                let status = resp.status();
                let body = crate::http::request::read_limited(resp.into_body(), 64 << 20)
                    .await
                    .map_err(|e| S3Error::Upstream(format!("{}: {e}", t.daemon_id)))?;
                if !status.is_success() {
                    return Err(S3Error::Upstream(format!(
                        "{}: {status} {}",
                        t.daemon_id,
                        String::from_utf8_lossy(&body)
                    )));
                }
                let text = String::from_utf8_lossy(&body);
                let doc: TargetUploads = xml::from_xml(&text).map_err(|e| {
                    S3Error::Upstream(format!("{}: bad uploads list: {e}", t.daemon_id))
                })?;
                Ok(doc.upload)
            }
        });
        let mut all = Vec::new();
        for r in futures_util::future::join_all(calls).await {
            all.extend(r?.into_iter().map(|u| UploadInfo {
                id: u.upload_id,
                spec: UploadSpec {
                    object: u.key,
                    created_ns: xml::parse_iso8601(&u.initiated).unwrap_or(0),
                    ..Default::default()
                },
            }));
        }
        Ok(all)
    }

    async fn delete_object(&self, bucket: &str, key: &str) -> Result<(), S3Error> {
        crate::names::validate_object(key)?;
        let smap = self.0.state.smap();
        let owner = smap
            .owner(bucket, key)
            .ok_or_else(|| S3Error::Unavailable("no target in the cluster map".into()))?;
        let enc = |s: &str| {
            percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
        };
        let url = format!(
            "{}/v1/objects/{}/{}",
            owner.control_url(),
            enc(bucket),
            enc(key)
        );
        let reply = self
            .0
            .client
            .send(Method::DELETE, &url, None)
            .await
            .map_err(|e| S3Error::Upstream(e.to_string()))?;
        match reply.status.as_u16() {
            200..=299 | 404 => Ok(()),
            s => Err(S3Error::Upstream(format!(
                "{}: {s} {}",
                owner.daemon_id,
                String::from_utf8_lossy(&reply.body)
            ))),
        }
    }
}
