//! JSON-RPC 2.0 edges over stdio, against the built binary: lines that are not JSON, requests whose params do
//! not fit their method, unknown and oversized method names, and lines that must never be answered.

use super::switchboard;
use serde_json::{Value, json};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};
use tokio::task::JoinHandle;

/// No error answer needs more than this (the tools/list and ping answers are not held to it).
const MAX_ERROR_ANSWER: usize = 512;
/// "A few KB": no log line may be longer (Switchboard clips log events at 4 KiB).
const MAX_LOG_LINE: usize = 8 * 1024;

/// One spawned `switchboard serve`, initialised, with its stderr collected in the background.
struct Session {
    child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
    logs: JoinHandle<String>,
    probes: u32,
}

/// At most `n` characters of `s`, for assertion messages that must not print megabytes.
fn head(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

impl Session {
    async fn start() -> Self {
        let mut child = switchboard(&["serve"], "http://127.0.0.1:9");
        let mut err_pipe = child.stderr.take().unwrap();
        let logs = tokio::spawn(async move {
            let mut text = String::new();
            tokio::io::AsyncReadExt::read_to_string(&mut err_pipe, &mut text).await.unwrap();
            text
        });
        let stdin = child.stdin.take().unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut session = Session { child, stdin, lines, logs, probes: 0 };
        for m in super::handshake() {
            session.write(m.to_string().as_bytes()).await;
        }
        loop {
            let (_, msg) = session.next().await;
            if msg["id"] == 1 {
                assert_eq!(msg["result"]["serverInfo"]["name"], "switchboard", "{msg}");
                break;
            }
        }
        session
    }

    async fn write(&mut self, raw: &[u8]) {
        self.stdin.write_all(raw).await.unwrap();
        self.stdin.write_all(b"\n").await.unwrap();
        self.stdin.flush().await.unwrap();
    }

    /// The next stdout line, which must be a JSON-RPC 2.0 message.
    async fn next(&mut self) -> (String, Value) {
        let line = tokio::time::timeout(Duration::from_secs(30), self.lines.next_line())
            .await
            .expect("no answer within 30 s")
            .unwrap()
            .expect("the server closed stdout");
        let msg: Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("non-JSON on stdout ({e}): {}", head(&line, 300)));
        assert_eq!(msg["jsonrpc"], "2.0", "{}", head(&line, 300));
        (line, msg)
    }

    /// Send one raw line, then a ping; return every message that is not the ping's answer, read until the ping
    /// has been answered and at least `wanted` other messages have arrived. Each of them must be short.
    async fn exchange(&mut self, raw: &[u8], wanted: usize) -> Vec<(String, Value)> {
        self.probes += 1;
        let probe = format!("probe-{}", self.probes);
        self.write(raw).await;
        self.write(json!({"jsonrpc": "2.0", "id": probe, "method": "ping"}).to_string().as_bytes()).await;
        let (mut got, mut probed) = (Vec::new(), false);
        while !probed || got.len() < wanted {
            let (line, msg) = self.next().await;
            if msg["id"] == probe.as_str() {
                assert_eq!(msg["result"], json!({}), "{line}");
                probed = true;
                continue;
            }
            assert!(line.len() <= MAX_ERROR_ANSWER, "a {}-byte answer: {}…", line.len(), head(&line, 300));
            got.push((line, msg));
        }
        assert_eq!(got.len(), wanted, "sent {}…, got {got:?}", head(&String::from_utf8_lossy(raw), 120));
        got
    }

    /// The single error answer to `raw`, checked for code and id (`None`: the answer has no id, as MCP wants
    /// when the request's id cannot be read); returns its message.
    async fn error(&mut self, raw: &[u8], code: i64, id: impl Into<Option<Value>>) -> String {
        let mut got = self.exchange(raw, 1).await;
        let (line, msg) = got.remove(0);
        let sent = head(&String::from_utf8_lossy(raw), 120);
        assert_eq!(msg["error"]["code"], code, "sent {sent}, got {line}");
        assert_eq!(msg.get("id").cloned(), id.into(), "sent {sent}, got {line}");
        assert!(msg.get("result").is_none(), "{line}");
        msg["error"]["message"].as_str().unwrap().to_string()
    }

    /// The session still works: tools/list answers with the catalog.
    async fn still_serves(&mut self) {
        self.write(br#"{"jsonrpc":"2.0","id":"after","method":"tools/list"}"#).await;
        let (line, msg) = self.next().await;
        assert_eq!(msg["id"], "after", "unexpected message before the tools/list answer: {}", head(&line, 300));
        assert!(msg["result"]["tools"].as_array().is_some_and(|t| !t.is_empty()), "{}", head(&line, 300));
    }

    /// Close stdin, expect a clean exit, and return stderr.
    async fn finish(mut self) -> String {
        drop(self.stdin);
        let status = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await.unwrap().unwrap();
        assert!(status.success(), "{status:?}");
        if let Ok(Some(line)) = self.lines.next_line().await {
            panic!("unexpected message after the last exchange: {}", head(&line, 300));
        }
        let logs = self.logs.await.unwrap();
        for line in logs.lines() {
            assert!(line.len() <= MAX_LOG_LINE, "a {}-byte log line: {}…", line.len(), head(line, 300));
        }
        logs
    }
}

#[tokio::test]
async fn lines_that_are_not_json_get_one_parse_error_without_an_id() {
    let mut s = Session::start().await;
    let unparsable: [&[u8]; 5] = [
        b"hello",
        br#"{"jsonrpc":"2.0","id":12,"method":"#,
        br#"{"jsonrpc":"2.0","id":13,"method":"ping"}}"#,
        b"{\"jsonrpc\":\"2.0\",\"id\":14,\"method\":\"\xff\"}",
        b"\xef\xbb\xbf\xef\xbb\xbf{}",
    ];
    for raw in unparsable {
        let message = s.error(raw, -32700, None).await;
        assert!(message.starts_with("Parse error"), "{message}");
    }
    // An echoing peer sends our own answer back: it is a response, so it is not answered (no error storm).
    let echoed = s.exchange(b"hello", 1).await.remove(0).0;
    assert!(s.exchange(echoed.as_bytes(), 0).await.is_empty());
    // A leading byte-order mark is allowed (RFC 8259 §8.1), as are blank lines and CRLF endings.
    assert!(s.exchange(b"\xef\xbb\xbf{\"jsonrpc\":\"2.0\",\"method\":\"notifications/x\"}\r", 0).await.is_empty());
    assert!(s.exchange(b"", 0).await.is_empty());
    s.still_serves().await;
    s.finish().await;
}

#[tokio::test]
async fn json_that_is_not_a_message_gets_invalid_request() {
    let mut s = Session::start().await;
    for raw in [&b"[]"[..], b"5", b"{}", br#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#, br#"{"jsonrpc":"2.0"}"#] {
        s.error(raw, -32600, None).await;
    }
    s.error(br#"{"jsonrpc":"1.0","id":16,"method":"ping"}"#, -32600, json!(16)).await;
    s.error(br#"{"id":17,"method":"ping"}"#, -32600, json!(17)).await;
    s.error(br#"{"jsonrpc":"2.0","id":18,"method":7}"#, -32600, json!(18)).await;
    s.error(br#"{"jsonrpc":"2.0","id":"s-19"}"#, -32600, json!("s-19")).await;
    // MCP ids are strings or integers; any other id cannot be echoed as one.
    for id in ["null", "{\"x\":1}", "true", "1.5"] {
        s.error(format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"ping"}}"#).as_bytes(), -32600, None).await;
    }
    s.still_serves().await;
    s.finish().await;
}

#[tokio::test]
async fn requests_whose_params_do_not_fit_get_invalid_params_with_their_id() {
    let mut s = Session::start().await;
    // Params that are not an object at all (rmcp answered -32600 without the id).
    s.error(br#"{"jsonrpc":"2.0","id":10,"method":"tools/call","params":"nope"}"#, -32602, json!(10)).await;
    s.error(br#"{"jsonrpc":"2.0","id":"s-11","method":"tools/list","params":[1,2]}"#, -32602, json!("s-11")).await;
    s.error(br#"{"jsonrpc":"2.0","id":12,"method":"ping","params":5}"#, -32602, json!(12)).await;
    // An object of the wrong shape (rmcp answered -32601 "Method not found").
    let wrong_type =
        s.error(br#"{"jsonrpc":"2.0","id":13,"method":"tools/call","params":{"name":5}}"#, -32602, json!(13));
    assert!(wrong_type.await.starts_with("Invalid params for tools/call"));
    let missing = s.error(br#"{"jsonrpc":"2.0","id":14,"method":"tools/call","params":{}}"#, -32602, json!(14)).await;
    assert!(missing.contains("`name`"), "the answer says what is wrong: {missing}");
    s.error(br#"{"jsonrpc":"2.0","id":15,"method":"resources/read","params":{"uri":7}}"#, -32602, json!(15)).await;
    let raw = br#"{"jsonrpc":"2.0","id":16,"method":"tools/call","params":{"name":"get_invoice","arguments":"x"}}"#;
    s.error(raw, -32602, json!(16)).await;
    s.error(br#"{"jsonrpc":"2.0","id":17,"method":"resources/subscribe","params":{}}"#, -32602, json!(17)).await;
    s.still_serves().await;
    s.finish().await;
}

#[tokio::test]
async fn unknown_method_names_are_clipped_in_the_answer_and_in_the_log() {
    let mut s = Session::start().await;
    let named = |id: i64, method: &str| format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"{method}"}}"#).into_bytes();
    let message = s.error(&named(20, &"x".repeat(200)), -32601, json!(20)).await;
    assert!(message.starts_with("Method not found") && message.len() <= 100, "{message}");
    let message = s.error(&named(21, &"y".repeat(1024 * 1024)), -32601, json!(21)).await;
    assert!(message.len() <= 100, "{message}");
    // Unknown with params that are not an object: still "not found", and still with the id.
    let raw = format!(r#"{{"jsonrpc":"2.0","id":22,"method":"{}","params":"x"}}"#, "z".repeat(1000));
    assert!(s.error(raw.as_bytes(), -32601, json!(22)).await.len() <= 100);
    // Control characters and quotes come back escaped.
    let message = s.error(&named(23, r#"evil\u001b[31m\"\n"#), -32601, json!(23)).await;
    assert!(!message.contains('\u{1b}') && !message.contains('\n'), "{message:?}");
    // A 10 MB line is longer than any message we accept: one short answer, and the line is not kept.
    let message = s.error(&named(24, &"w".repeat(10 * 1024 * 1024)), -32600, None).await;
    assert!(message.contains("longer than"), "{message}");
    s.still_serves().await;
    let logs = s.finish().await;
    assert!(!logs.contains(&"y".repeat(1000)), "the 1 MiB method name reached the log");
}

#[tokio::test]
async fn notifications_and_responses_get_no_answer() {
    let mut s = Session::start().await;
    let long = format!(r#"{{"jsonrpc":"2.0","method":"notifications/{}"}}"#, "n".repeat(1024 * 1024));
    let silent: [&[u8]; 9] = [
        br#"{"jsonrpc":"2.0","method":"foo/bar"}"#,
        br#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":"x"}"#,
        br#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":{}}}"#,
        long.as_bytes(),
        br#"{"jsonrpc":"2.0","id":99,"result":{}}"#,
        br#"{"jsonrpc":"2.0","id":98,"error":{"code":1,"message":"x"}}"#,
        br#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}"#,
        br#"{"jsonrpc":"2.0","id":5,"error":"x"}"#,
        br#"{"jsonrpc":"2.0","id":6,"result":{},"error":{}}"#,
    ];
    for raw in silent {
        assert!(s.exchange(raw, 0).await.is_empty());
    }
    s.still_serves().await;
    s.finish().await;
}
