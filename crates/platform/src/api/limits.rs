//! Request bodies bounded per route, read before any handler sees them. A body over its route's
//! limit is refused with 413 only after the rest of it has been read and dropped (up to a
//! bound): an HTTP/1.1 server that answers and closes while the client is still writing resets
//! the connection, and the client then reports a broken pipe instead of the refusal that says
//! what to fix.

use super::{ApiError, body_limit};
use axum::{
    body::{Body, Bytes},
    extract::{MatchedPath, Request},
    http::{HeaderMap, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use http_body_util::BodyExt as _;
use std::time::Duration;

/// How much of a refused body is read past its limit so the client reads the refusal. A client
/// sending more than this is cut off after the answer: it is not worth the platform's time.
const DRAIN_BYTES: usize = 16 * 1024 * 1024;

/// How long a refused body is read for, at most.
const DRAIN_TIME: Duration = Duration::from_secs(10);

/// Middleware: buffers the request body up to the matched route's limit ([`body_limit`]) and
/// hands the handler the whole of it; a larger body is answered with 413.
pub async fn bound_body(matched: Option<MatchedPath>, request: Request, next: Next) -> Response {
    let limit = body_limit(matched.as_ref().map_or("", |m| m.as_str()));
    let (parts, body) = request.into_parts();
    let declared = declared_length(&parts.headers);
    if declared.is_some_and(|length| length > limit as u64) && expects_continue(&parts.headers) {
        // The client waits for a go-ahead before it sends the body: refusing now spares both
        // sides the transfer, and nothing is left unread on the connection.
        return too_large(limit);
    }
    match read_bounded(body, limit).await {
        Ok(bytes) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Err(Refused::TooLarge) => too_large(limit),
        Err(Refused::Unreadable(error)) => ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("the request body could not be read ({error}): send it again"),
        )
        .into_response(),
    }
}

enum Refused {
    TooLarge,
    Unreadable(axum::Error),
}

/// The body, if it is at most `limit` bytes; otherwise the rest of it is drained (bounded by
/// [`DRAIN_BYTES`] and [`DRAIN_TIME`]) and the body refused.
async fn read_bounded(mut body: Body, limit: usize) -> Result<Bytes, Refused> {
    let mut first: Option<Bytes> = None;
    let mut buffer: Vec<u8> = Vec::new();
    let mut read = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.map_err(Refused::Unreadable)?.into_data() else {
            continue; // trailers carry nothing a handler reads
        };
        read += data.len();
        if read > limit {
            drain(body, read).await;
            return Err(Refused::TooLarge);
        }
        // Most bodies arrive in one frame: keep it as it is, copy only when a second comes.
        match first.take() {
            None if buffer.is_empty() => first = Some(data),
            None => buffer.extend_from_slice(&data),
            Some(previous) => {
                buffer.reserve(previous.len() + data.len());
                buffer.extend_from_slice(&previous);
                buffer.extend_from_slice(&data);
            }
        }
    }
    Ok(first.unwrap_or_else(|| Bytes::from(buffer)))
}

/// Reads and drops what is left of a refused body, within the drain bounds.
async fn drain(mut body: Body, mut read: usize) {
    let draining = async {
        while read < DRAIN_BYTES {
            match body.frame().await {
                Some(Ok(frame)) => read += frame.data_ref().map_or(0, Bytes::len),
                Some(Err(_)) | None => return,
            }
        }
    };
    // Past the bounds the connection is closed after the answer, as before.
    let _ = tokio::time::timeout(DRAIN_TIME, draining).await;
}

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

fn expects_continue(headers: &HeaderMap) -> bool {
    headers
        .get(header::EXPECT)
        .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"100-continue"))
}

fn too_large(limit: usize) -> Response {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!(
            "the request body is larger than this endpoint accepts ({limit} bytes): send a smaller one"
        ),
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunked(chunks: &[&'static [u8]]) -> Body {
        let frames = chunks
            .iter()
            .map(|c| Ok::<_, std::io::Error>(Bytes::from_static(c)))
            .collect::<Vec<_>>();
        Body::from_stream(futures_util::stream::iter(frames))
    }

    #[tokio::test]
    async fn a_body_within_the_limit_is_handed_on_whole_from_one_or_many_frames() {
        let one = read_bounded(Body::from("hello"), 5).await;
        assert!(matches!(one, Ok(ref b) if b.as_ref() == b"hello"));
        let many = read_bounded(chunked(&[b"he", b"ll", b"o"]), 5).await;
        assert!(matches!(many, Ok(ref b) if b.as_ref() == b"hello"));
        let empty = read_bounded(Body::empty(), 0).await;
        assert!(matches!(empty, Ok(ref b) if b.is_empty()));
    }

    #[tokio::test]
    async fn a_body_one_byte_over_the_limit_is_refused() {
        assert!(matches!(
            read_bounded(Body::from("hello!"), 5).await,
            Err(Refused::TooLarge)
        ));
        assert!(matches!(
            read_bounded(chunked(&[b"hel", b"lo", b"!"]), 5).await,
            Err(Refused::TooLarge)
        ));
    }

    #[tokio::test]
    async fn the_rest_of_a_refused_body_is_read_so_the_client_can_read_the_refusal() {
        use futures_util::StreamExt as _;
        use std::sync::atomic::{AtomicUsize, Ordering};
        static PULLED: AtomicUsize = AtomicUsize::new(0);
        let frames = futures_util::stream::iter([&b"too long"[..], b"more", b"the end"]).map(|c| {
            PULLED.fetch_add(1, Ordering::SeqCst);
            Ok::<_, std::io::Error>(Bytes::from_static(c))
        });
        let refused = read_bounded(Body::from_stream(frames), 4).await;
        assert!(matches!(refused, Err(Refused::TooLarge)));
        assert_eq!(PULLED.load(Ordering::SeqCst), 3, "every frame was read");
    }
}
