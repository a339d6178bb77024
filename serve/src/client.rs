//! A small HTTP/1.1 client on a tokio `TcpStream`, for the load test and the tests: one
//! keep-alive connection, a request at a time, the answer read by `Content-Length` (or
//! chunked), reconnecting when the server closed the connection. [`Client::send_raw`] writes
//! any bytes, for malformed requests.
//!
//! It does NOT do TLS, HTTP/2, redirects, pipelining or cookies, and reads answers of at most
//! [`MAX_ANSWER`] bytes.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::error::ServeError;

/// The largest answer (head and body) the client reads.
pub const MAX_ANSWER: usize = 64 << 20;

/// An answer from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The HTTP status code.
    pub status: u16,
    /// The `Content-Type` header, if any.
    pub content_type: Option<String>,
    /// The body.
    pub body: Vec<u8>,
}

impl Answer {
    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON, if it is.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// One connection to `addr`, opened again when the server closes it.
#[derive(Debug)]
pub struct Client {
    addr: SocketAddr,
    stream: Option<TcpStream>,
    /// Bytes read past the last answer.
    buffer: Vec<u8>,
}

impl Client {
    /// A client of the server at `addr` (connecting on first use).
    pub fn new(addr: SocketAddr) -> Client {
        Client {
            addr,
            stream: None,
            buffer: Vec::new(),
        }
    }

    /// Sends `method path` with `body` (and `Content-Type: content_type` when given) and
    /// reads the answer.
    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<Answer, ServeError> {
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n",
            self.addr,
            body.len()
        );
        if let Some(content_type) = content_type {
            head.push_str(&format!("Content-Type: {content_type}\r\n"));
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(body);
        self.send_raw(&bytes).await
    }

    /// `POST path` with a JSON body.
    pub async fn post_json(&mut self, path: &str, body: &[u8]) -> Result<Answer, ServeError> {
        self.request("POST", path, Some("application/json"), body)
            .await
    }

    /// `GET path`.
    pub async fn get(&mut self, path: &str) -> Result<Answer, ServeError> {
        self.request("GET", path, None, &[]).await
    }

    /// Writes `bytes` as they are (one request, well formed or not) and reads one answer.
    /// On a connection used before, a failure is retried once on a new connection (the
    /// server may have closed it after its last answer).
    pub async fn send_raw(&mut self, bytes: &[u8]) -> Result<Answer, ServeError> {
        let reused = self.stream.is_some();
        match self.send_once(bytes).await {
            Err(_) if reused => self.send_once(bytes).await,
            answer => answer,
        }
    }

    async fn send_once(&mut self, bytes: &[u8]) -> Result<Answer, ServeError> {
        let stream = match &mut self.stream {
            Some(stream) => stream,
            None => {
                let stream = TcpStream::connect(self.addr)
                    .await
                    .map_err(ServeError::io(format!("connecting to {}", self.addr)))?;
                stream
                    .set_nodelay(true)
                    .map_err(ServeError::io("setting TCP_NODELAY"))?;
                self.buffer.clear();
                self.stream.insert(stream)
            }
        };
        let written = stream.write_all(bytes).await;
        let answer = match written {
            Ok(()) => read_answer(stream, &mut self.buffer).await,
            Err(e) => Err(ServeError::io("sending a request")(e)),
        };
        match answer {
            Ok((answer, keep_alive)) => {
                if !keep_alive {
                    self.stream = None;
                }
                Ok(answer)
            }
            Err(e) => {
                self.stream = None;
                Err(e)
            }
        }
    }
}

/// Reads one answer from `stream` (`buffer` holds bytes already read); whether the
/// connection stays open.
async fn read_answer(
    stream: &mut TcpStream,
    buffer: &mut Vec<u8>,
) -> Result<(Answer, bool), ServeError> {
    let head_end = loop {
        if let Some(at) = find(buffer, b"\r\n\r\n") {
            break at + 4;
        }
        fill(stream, buffer).await?;
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let (status, headers) = parse_head(&head)?;
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    buffer.drain(..head_end);
    let chunked = header("transfer-encoding").is_some_and(|v| v.contains("chunked"));
    let body = if chunked {
        read_chunked(stream, buffer).await?
    } else {
        let len = match header("content-length") {
            Some(len) => len
                .parse()
                .map_err(|_| bad(format!("Content-Length {len}")))?,
            None => 0,
        };
        read_exactly(stream, buffer, len).await?
    };
    let keep_alive = !header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
    let answer = Answer {
        status,
        content_type: header("content-type"),
        body,
    };
    Ok((answer, keep_alive))
}

/// The status code and headers of an answer's head.
fn parse_head(head: &str) -> Result<(u16, Vec<(String, String)>), ServeError> {
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .strip_prefix("HTTP/1.1 ")
        .or_else(|| status_line.strip_prefix("HTTP/1.0 "))
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| bad(format!("status line {status_line:?}")))?;
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_string(), value.trim().to_string()))
        .collect();
    Ok((status, headers))
}

/// The next `len` bytes, from `buffer` first.
async fn read_exactly(
    stream: &mut TcpStream,
    buffer: &mut Vec<u8>,
    len: usize,
) -> Result<Vec<u8>, ServeError> {
    if len > MAX_ANSWER {
        return Err(bad(format!("an answer of {len} bytes")));
    }
    while buffer.len() < len {
        fill(stream, buffer).await?;
    }
    Ok(buffer.drain(..len).collect())
}

/// A chunked body.
async fn read_chunked(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Result<Vec<u8>, ServeError> {
    let mut body = Vec::new();
    loop {
        let line_end = loop {
            if let Some(at) = find(buffer, b"\r\n") {
                break at;
            }
            fill(stream, buffer).await?;
        };
        let line = String::from_utf8_lossy(&buffer[..line_end]).into_owned();
        let size_text = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| bad(format!("chunk size {line:?}")))?;
        buffer.drain(..line_end + 2);
        let chunk = read_exactly(stream, buffer, size + 2).await?;
        if size == 0 {
            return Ok(body);
        }
        body.extend_from_slice(&chunk[..size]);
        if body.len() > MAX_ANSWER {
            return Err(bad("a chunked answer over the limit".into()));
        }
    }
}

/// Reads more bytes into `buffer`; an error at the end of the stream.
async fn fill(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Result<(), ServeError> {
    if buffer.len() > MAX_ANSWER {
        return Err(bad("an answer head over the limit".into()));
    }
    let mut chunk = [0u8; 16 << 10];
    let n = stream
        .read(&mut chunk)
        .await
        .map_err(ServeError::io("reading an answer"))?;
    if n == 0 {
        return Err(ServeError::io("reading an answer")(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "the server closed the connection",
        )));
    }
    buffer.extend_from_slice(&chunk[..n]);
    Ok(())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn bad(what: String) -> ServeError {
    ServeError::Io {
        what: "reading an answer".into(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, format!("bad {what}")),
    }
}
