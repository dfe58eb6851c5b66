//! The bench's submission path: `eth_sendRawTransaction` over one kept-alive HTTP/1.1
//! connection per submitter (hyper's connection-level client), bodies written straight from the
//! pre-signed hex and answers read into a small struct.
//!
//! A load generator shares the machine with the node it measures, and every microsecond it
//! spends per request is one the node does not get. jsonrpsee's client (a connection pool, a
//! tower stack, an id manager and generic (de)serialization per call) cost the bench about
//! 30 µs of CPU per transfer on a 2-core machine; the node itself needs about 70. The control
//! requests (deploying, funding, watching blocks) still go through jsonrpsee.

use alloy_primitives::B256;
use anyhow::{Context, anyhow, bail};
use bytes::Bytes;
use http::{HeaderMap, Request, Uri, header};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{SendRequest, handshake};
use hyper_util::rt::TokioIo;
use serde::Deserialize;

/// Largest answer accepted: a batch of raw-transaction hashes is a few KiB per 50.
const MAX_ANSWER_BYTES: usize = 16 << 20;

/// One HTTP/1.1 connection to a JSON-RPC endpoint, reopened if the server closes it.
pub(crate) struct Connection {
    authority: String,
    path: String,
    headers: HeaderMap,
    sender: SendRequest<Full<Bytes>>,
}

impl Connection {
    /// Connects to `url` (`http://host[:port][/path]`); `headers` go with every request (the
    /// read token RiCaaS nodes ask for).
    pub(crate) async fn open(url: &str, headers: HeaderMap) -> anyhow::Result<Self> {
        let uri: Uri = url.parse().with_context(|| format!("endpoint {url}"))?;
        if uri.scheme_str() != Some("http") {
            bail!("endpoint {url}: only http:// endpoints are submitted to over raw HTTP");
        }
        let host = uri
            .host()
            .ok_or_else(|| anyhow!("endpoint {url} names no host"))?;
        let authority = format!("{host}:{}", uri.port_u16().unwrap_or(80));
        let path = uri
            .path_and_query()
            .map_or_else(|| "/".to_string(), |p| p.as_str().to_string());
        let sender = connect(&authority).await?;
        Ok(Self {
            authority,
            path,
            headers,
            sender,
        })
    }

    /// POSTs a JSON body and returns the answer's body.
    pub(crate) async fn post(&mut self, body: Bytes) -> anyhow::Result<Bytes> {
        if self.sender.is_closed() {
            self.sender = connect(&self.authority).await?;
        }
        let mut request = Request::post(self.path.as_str())
            .header(header::HOST, self.authority.as_str())
            .header(header::CONTENT_TYPE, "application/json")
            .body(Full::new(body))?;
        request.headers_mut().extend(self.headers.clone());
        self.sender.ready().await?;
        let response = self.sender.send_request(request).await?;
        let status = response.status();
        let body = http_body_util::Limited::new(response.into_body(), MAX_ANSWER_BYTES)
            .collect()
            .await
            .map_err(|e| anyhow!("reading the answer: {e}"))?
            .to_bytes();
        if !status.is_success() {
            bail!(
                "HTTP {status}: {}",
                String::from_utf8_lossy(&body[..body.len().min(300)])
            );
        }
        Ok(body)
    }

    /// Submits raw transactions (`0x`-prefixed hex) in one request (a JSON-RPC batch when more
    /// than one) and returns each one's hash or the endpoint's refusal, in order.
    pub(crate) async fn send_raw(
        &mut self,
        raws: &[&str],
    ) -> anyhow::Result<Vec<Result<B256, String>>> {
        let answer = self.post(send_raw_body(raws)).await?;
        parse_send_answers(&answer, raws.len())
    }
}

async fn connect(authority: &str) -> anyhow::Result<SendRequest<Full<Bytes>>> {
    let stream = tokio::net::TcpStream::connect(authority)
        .await
        .with_context(|| format!("connecting to {authority}"))?;
    // Requests are small and each waits for its answer: no Nagle delay.
    stream.set_nodelay(true)?;
    let (sender, connection) = handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        // Ends when the server closes the connection; `post` then opens another.
        let _ = connection.await;
    });
    Ok(sender)
}

/// `eth_sendRawTransaction` requests for `raws`, ids 0.., batched when more than one.
fn send_raw_body(raws: &[&str]) -> Bytes {
    let mut body = String::with_capacity(raws.iter().map(|r| r.len() + 80).sum::<usize>() + 2);
    let batched = raws.len() != 1;
    if batched {
        body.push('[');
    }
    for (id, raw) in raws.iter().enumerate() {
        if id > 0 {
            body.push(',');
        }
        // The hex needs no escaping: it is ASCII digits and letters.
        body.push_str(r#"{"jsonrpc":"2.0","id":"#);
        body.push_str(&id.to_string());
        body.push_str(r#","method":"eth_sendRawTransaction","params":[""#);
        body.push_str(raw);
        body.push_str(r#""]}"#);
    }
    if batched {
        body.push(']');
    }
    Bytes::from(body)
}

#[derive(Deserialize)]
struct Answer {
    id: Option<usize>,
    result: Option<B256>,
    error: Option<Refusal>,
}

#[derive(Deserialize)]
struct Refusal {
    message: String,
}

/// Each request's hash or refusal, by id; a batch's answers may come in any order.
fn parse_send_answers(body: &[u8], count: usize) -> anyhow::Result<Vec<Result<B256, String>>> {
    let answers: Vec<Answer> = if count == 1 {
        vec![serde_json::from_slice(body).context("not a JSON-RPC answer")?]
    } else {
        serde_json::from_slice(body).context("not a JSON-RPC batch answer")?
    };
    let mut results: Vec<Option<Result<B256, String>>> = vec![None; count];
    for answer in answers {
        let index = match (count, answer.id) {
            (1, _) => 0,
            (_, Some(id)) if id < count => id,
            (_, id) => bail!("an answer with id {id:?} to a batch of {count}"),
        };
        results[index] = Some(match (answer.result, answer.error) {
            (Some(hash), None) => Ok(hash),
            (_, Some(refusal)) => Err(refusal.message),
            (None, None) => Err("an answer with neither result nor error".to_string()),
        });
    }
    results
        .into_iter()
        .enumerate()
        .map(|(id, r)| r.ok_or_else(|| anyhow!("no answer to request {id} of the batch")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_single_request_and_a_batch_are_written_as_json_rpc() {
        let one: serde_json::Value =
            serde_json::from_slice(&send_raw_body(&["0xab"])).expect("json");
        assert_eq!(
            one,
            serde_json::json!({"jsonrpc": "2.0", "id": 0, "method": "eth_sendRawTransaction", "params": ["0xab"]})
        );
        let two: serde_json::Value =
            serde_json::from_slice(&send_raw_body(&["0x01", "0x02"])).expect("json");
        assert_eq!(two[1]["id"], 1);
        assert_eq!(two[1]["params"][0], "0x02");
    }

    #[test]
    fn answers_are_matched_to_requests_by_id_and_refusals_keep_their_message() {
        let hash = B256::repeat_byte(7);
        let body = format!(
            r#"[{{"jsonrpc":"2.0","id":1,"error":{{"code":-32000,"message":"nonce too low"}}}},
                {{"jsonrpc":"2.0","id":0,"result":"{hash}"}}]"#
        );
        let results = parse_send_answers(body.as_bytes(), 2).expect("parses");
        assert_eq!(results[0], Ok(hash));
        assert_eq!(results[1], Err("nonce too low".to_string()));
        // A batch missing an answer, or answering an id it was not sent, is an error.
        let short = format!(r#"[{{"jsonrpc":"2.0","id":0,"result":"{hash}"}}]"#);
        assert!(parse_send_answers(short.as_bytes(), 2).is_err());
        let stray = format!(r#"[{{"id":5,"result":"{hash}"}},{{"id":0,"result":"{hash}"}}]"#);
        assert!(parse_send_answers(stray.as_bytes(), 2).is_err());
        // A single request's answer is an object.
        let single = format!(r#"{{"jsonrpc":"2.0","id":0,"result":"{hash}"}}"#);
        assert_eq!(
            parse_send_answers(single.as_bytes(), 1).expect("parses"),
            [Ok(hash)]
        );
    }
}
