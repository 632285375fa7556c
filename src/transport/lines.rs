//! Newline-delimited JSON-RPC over a byte stream (stdio): our own rmcp [`Transport`], so that what does not parse
//! is answered by the JSON-RPC rules in [`crate::server::jsonrpc`] instead of being dropped (rmcp ignores a line that is
//! not JSON) or answered without its id (rmcp's `-32600` for JSON of the wrong shape).
//!
//! Lines are read bounded ([`MAX_MESSAGE_BYTES`]; a longer one is skipped unread and answered once) and parsed
//! once, straight into rmcp's message type; the edge rules run only when that parse fails.

use crate::server::jsonrpc::{self, ErrorAnswer, MAX_MESSAGE_BYTES};
use rmcp::RoleServer;
use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use rmcp::transport::Transport;
use serde::Serialize;
use std::io;
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::Mutex;

/// UTF-8 byte-order mark, which RFC 8259 §8.1 lets a parser ignore (Windows tools write one).
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// One MCP peer on a reader and a writer, one JSON-RPC message per line each way.
pub struct LineTransport<R, W> {
    read: BufReader<R>,
    /// The line being read. It survives a cancelled `receive` (rmcp polls it inside `select!`), so a line
    /// read in several polls is never lost.
    line: Vec<u8>,
    /// Skipping the rest of an oversized line, up to its newline.
    discarding: bool,
    write: Arc<Mutex<Option<LineWriter<W>>>>,
    /// An answer made here, not yet written out.
    pending: Option<Pending>,
}

enum Pending {
    Queue(ErrorAnswer),
    Flush,
}

enum LineRead {
    Line,
    Oversized,
    Eof,
    Io(io::Error),
}

impl<R, W> LineTransport<R, W>
where
    R: AsyncRead + Send + Unpin,
    W: AsyncWrite + Send + Unpin + 'static,
{
    pub fn new(read: R, write: W) -> Self {
        Self {
            read: BufReader::new(read),
            line: Vec::new(),
            discarding: false,
            write: Arc::new(Mutex::new(Some(LineWriter { io: write, buf: Vec::new() }))),
            pending: None,
        }
    }

    /// Read one `\n`-terminated line into `self.line`, never holding more than [`MAX_MESSAGE_BYTES`] of it.
    ///
    /// Cancel-safe, as rmcp's `AsyncRwTransport::read_line` (whose shape this follows): `fill_buf` consumes
    /// nothing when dropped, and the copy into `self.line` and the matching `consume` have no await between them.
    async fn read_line(&mut self) -> LineRead {
        loop {
            let (consumed, done) = {
                let available = match self.read.fill_buf().await {
                    Ok(available) => available,
                    Err(e) => return LineRead::Io(e),
                };
                if available.is_empty() {
                    return LineRead::Eof;
                }
                let newline = available.iter().position(|b| *b == b'\n');
                let take = newline.map_or(available.len(), |at| at + 1);
                let done = if self.discarding {
                    self.discarding = newline.is_none();
                    None
                } else if self.line.len().saturating_add(take) > MAX_MESSAGE_BYTES {
                    self.line.clear();
                    self.discarding = newline.is_none();
                    Some(LineRead::Oversized)
                } else {
                    self.line.extend_from_slice(&available[..take]);
                    newline.map(|_| LineRead::Line)
                };
                (take, done)
            };
            self.read.consume(consumed);
            if let Some(done) = done {
                return done;
            }
        }
    }

    /// Write out the answer made here, if any. `false` when the writer is gone or failed: the session is over.
    /// Cancel-safe: the answer is queued into the writer's buffer before the first await that can write.
    async fn flush_pending(&mut self) -> bool {
        if self.pending.is_none() {
            return true;
        }
        let write = self.write.clone();
        let mut guard = write.lock().await;
        let Some(writer) = guard.as_mut() else { return false };
        if let Some(Pending::Queue(answer)) = self.pending.take()
            && let Err(e) = writer.queue(&answer)
        {
            tracing::error!(error = %e, "cannot encode an error answer");
            return false;
        }
        self.pending = Some(Pending::Flush);
        if let Err(e) = writer.flush().await {
            tracing::error!(error = %e, "cannot write to the peer");
            return false;
        }
        self.pending = None;
        true
    }
}

impl<R, W> Transport<RoleServer> for LineTransport<R, W>
where
    R: AsyncRead + Send + Unpin,
    W: AsyncWrite + Send + Unpin + 'static,
{
    type Error = io::Error;

    fn send(&mut self, item: ServerJsonRpcMessage) -> impl Future<Output = io::Result<()>> + Send + 'static {
        let write = self.write.clone();
        async move {
            let mut guard = write.lock().await;
            let writer = guard.as_mut().ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "closed"))?;
            writer.queue(&item)?;
            writer.flush().await
        }
    }

    async fn receive(&mut self) -> Option<ClientJsonRpcMessage> {
        loop {
            if !self.flush_pending().await {
                return None;
            }
            match self.read_line().await {
                LineRead::Line => {}
                LineRead::Oversized => {
                    tracing::warn!(max_bytes = MAX_MESSAGE_BYTES, "skipped a message longer than the limit, unread");
                    self.pending = Some(Pending::Queue(ErrorAnswer::oversized()));
                    continue;
                }
                LineRead::Eof => return None,
                LineRead::Io(e) => {
                    tracing::error!(error = %e, "cannot read from the peer");
                    return None;
                }
            }
            let parsed = {
                let line = self.line.strip_suffix(b"\n").unwrap_or(&self.line);
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                let line = line.strip_prefix(BOM).unwrap_or(line);
                if line.iter().all(u8::is_ascii_whitespace) {
                    None
                } else {
                    Some(serde_json::from_slice::<ClientJsonRpcMessage>(line).map_err(|e| {
                        let answer = jsonrpc::answer_unparsed(line);
                        tracing::debug!(
                            bytes = line.len(),
                            error = %jsonrpc::clipped(&e.to_string(), 200),
                            answered = ?answer.as_ref().map(ErrorAnswer::code),
                            "a message that does not parse"
                        );
                        answer
                    }))
                }
            };
            self.line.clear();
            match parsed {
                Some(Ok(message)) => return Some(message),
                Some(Err(Some(answer))) => self.pending = Some(Pending::Queue(answer)),
                Some(Err(None)) | None => {}
            }
        }
    }

    async fn close(&mut self) -> io::Result<()> {
        drop(self.write.lock().await.take());
        Ok(())
    }
}

/// The writing half: whole lines are encoded into `buf`, then written out. A cancelled `flush` leaves what it
/// did not write in `buf` (a write that returned has been drained from it), so no line is ever cut short.
struct LineWriter<W> {
    io: W,
    buf: Vec<u8>,
}

impl<W: AsyncWrite + Unpin> LineWriter<W> {
    fn queue(&mut self, item: &impl Serialize) -> io::Result<()> {
        let start = self.buf.len();
        if let Err(e) = serde_json::to_writer(&mut self.buf, item) {
            self.buf.truncate(start);
            return Err(e.into());
        }
        self.buf.push(b'\n');
        Ok(())
    }

    async fn flush(&mut self) -> io::Result<()> {
        while !self.buf.is_empty() {
            match self.io.write(&self.buf).await? {
                0 => return Err(io::ErrorKind::WriteZero.into()),
                n => drop(self.buf.drain(..n)),
            }
        }
        self.io.flush().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmcp::model::RequestId;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn lines_split_across_reads_oversized_lines_and_answers_share_one_stream() {
        let (mut client, server_in) = tokio::io::duplex(64 * 1024);
        let (server_out, mut client_out) = tokio::io::duplex(64 * 1024);
        let mut transport = LineTransport::new(server_in, server_out);
        let writer = tokio::spawn(async move {
            client.write_all(b"{\"jsonrpc\":\"2.0\",\"id\":1,").await.unwrap();
            client.flush().await.unwrap();
            tokio::task::yield_now().await;
            client.write_all(b"\"method\":\"ping\"}\r\nnot json\n").await.unwrap();
            let long = vec![b'x'; MAX_MESSAGE_BYTES + 10];
            client.write_all(&long).await.unwrap();
            client.write_all(b"\n{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}\n").await.unwrap();
        });
        let first = transport.receive().await.unwrap();
        assert!(matches!(first, ClientJsonRpcMessage::Request(ref r) if r.id == RequestId::Number(1)), "{first:?}");
        let second = transport.receive().await.unwrap();
        assert!(matches!(second, ClientJsonRpcMessage::Request(ref r) if r.id == RequestId::Number(2)), "{second:?}");
        writer.await.unwrap();
        transport.close().await.unwrap();
        let mut written = String::new();
        client_out.read_to_string(&mut written).await.unwrap();
        let codes: Vec<i64> = written
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["error"]["code"].as_i64().unwrap())
            .collect();
        assert_eq!(codes, [-32700, -32600], "{written}");
    }
}
