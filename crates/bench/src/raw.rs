//! Requests sent straight to a connection pool (the scheduler runner's
//! [`Service`]), shared by the API and scheduler benchmarks: their timed
//! creates skip kube-rs' client and its buffer task, whose hop per request
//! took CPU from the server they measure.

use bytes::Bytes;
use cuttle_scheduler::runner::client::Service;
use http_body_util::BodyExt;
use kube::client::Body;
use tower::ServiceExt;

/// Sends `req` and reads the whole answer: its status and body.
pub async fn send(
    service: &Service,
    req: http::Request<Body>,
) -> Result<(http::StatusCode, Bytes), kube::Error> {
    let resp = service
        .clone()
        .oneshot(req)
        .await
        .map_err(kube::Error::Service)?;
    let code = resp.status();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(kube::Error::HyperError)?
        .to_bytes();
    Ok((code, body))
}
