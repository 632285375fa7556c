//! JSON-RPC 2.0 edge answers, where rmcp's are loose: bytes that are not JSON get `-32700 Parse error`; JSON
//! that is not a message gets `-32600 Invalid Request`; a request whose params do not fit its method gets
//! `-32602 Invalid params` with its id; an unknown method gets `-32601 Method not found`, naming it in at most
//! [`MAX_NAME_BYTES`] escaped bytes. Notifications and responses are never answered, and every answer made here is
//! itself a response, so a peer that echoes what it receives gets nothing back: no error storm.
//!
//! An answer whose request id cannot be read carries no `id` at all: MCP's schema types an error response's id
//! as an optional string or integer, where JSON-RPC 2.0 wrote `null` (which MCP's TypeScript SDK refuses).

// logging/setLevel and resources/(un)subscribe are deprecated in MCP 2026-07-28 but still served to older peers.
#[allow(deprecated)]
use rmcp::model::{
    CallToolRequest, CallToolRequestMethod, CancelTaskMethod, CancelTaskRequest, CompleteRequest,
    CompleteRequestMethod, ConstString, DiscoverRequest, DiscoverRequestMethod, ErrorCode, ErrorData, GetPromptRequest,
    GetPromptRequestMethod, GetSkillRequest, GetSkillRequestMethod, GetTaskMethod, GetTaskRequest, InitializeRequest,
    InitializeResultMethod, ListPromptsRequest, ListPromptsRequestMethod, ListResourceTemplatesRequest,
    ListResourceTemplatesRequestMethod, ListResourcesRequest, ListResourcesRequestMethod, ListSkillsRequest,
    ListSkillsRequestMethod, ListToolsRequest, ListToolsRequestMethod, PingRequest, PingRequestMethod,
    ReadResourceDirectoryRequest, ReadResourceDirectoryRequestMethod, ReadResourceRequest, ReadResourceRequestMethod,
    RequestId, SetLevelRequest, SetLevelRequestMethod, SubscribeRequest, SubscribeRequestMethod,
    SubscriptionsListenRequest, SubscriptionsListenRequestMethod, UnsubscribeRequest, UnsubscribeRequestMethod,
    UpdateTaskMethod, UpdateTaskRequest,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// The longest message read, in bytes: 4 MiB, rmcp's cap on a Streamable HTTP request body, so a message
/// accepted over HTTP is accepted over stdio (rmcp's own stdio default is 16 MiB).
pub const MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;
/// At most this many bytes of an unknown method's name (escaped) appear in its answer.
pub const MAX_NAME_BYTES: usize = 64;
/// At most this many bytes of a parser's explanation appear in an answer.
const MAX_DETAIL_BYTES: usize = 200;

/// An error response made by Switchboard rather than by rmcp's service loop.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorAnswer {
    jsonrpc: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<RequestId>,
    error: ErrorData,
}

impl ErrorAnswer {
    fn new(id: Option<RequestId>, error: ErrorData) -> Self {
        Self { jsonrpc: "2.0", id, error }
    }

    /// The answer to a line longer than [`MAX_MESSAGE_BYTES`], which is dropped unread.
    pub fn oversized() -> Self {
        let message = format!("Invalid Request: message longer than {MAX_MESSAGE_BYTES} bytes; it was not read");
        Self::new(None, ErrorData::invalid_request(message, None))
    }

    pub fn code(&self) -> i32 {
        self.error.code.0
    }
}

/// The answer owed to `bytes` (as given to the parser), which did not parse as a client message; `None` when nothing may be answered
/// (a notification or a response, however malformed).
pub fn answer_unparsed(bytes: &[u8]) -> Option<ErrorAnswer> {
    let message = match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(message)) => message,
        Ok(_) => return Some(invalid_request(None, "a message is one JSON object (batches are not supported)")),
        Err(e) => {
            let message = format!("Parse error: {}", clipped(&e.to_string(), MAX_DETAIL_BYTES));
            return Some(ErrorAnswer::new(None, ErrorData::parse_error(message, None)));
        }
    };
    if message.contains_key("result") || message.contains_key("error") {
        return None; // a response, or shaped like one: never answered, so an echoed answer ends here
    }
    let Some(id) = message.get("id") else {
        // A notification is never answered, not even a malformed one.
        return if message.contains_key("method") { None } else { Some(invalid_request(None, "no method")) };
    };
    let Ok(id) = serde_json::from_value::<RequestId>(id.clone()) else {
        return Some(invalid_request(None, "an id is a string or an integer"));
    };
    Some(answer_request(id, &message))
}

/// A request with a readable id that still did not parse: say what is wrong with it.
fn answer_request(id: RequestId, message: &Map<String, Value>) -> ErrorAnswer {
    if message.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return invalid_request(Some(id), "\"jsonrpc\" must be \"2.0\"");
    }
    let method = match message.get("method") {
        Some(Value::String(method)) => method,
        Some(_) => return invalid_request(Some(id), "the method is a string"),
        None => return invalid_request(Some(id), "no method"),
    };
    match params_problem(method, message.get("params")) {
        Some(error) => ErrorAnswer::new(Some(id), error),
        // Every part checked here is fine, yet the whole did not parse (say, a duplicated key).
        None => invalid_request(Some(id), "not a valid MCP request"),
    }
}

/// The error for a request rmcp could only read as a custom one: its method is unknown, or its params do not
/// fit the method. What rmcp's `on_custom_request` should answer.
pub fn custom_request_error(method: &str, params: Option<&Value>) -> ErrorData {
    params_problem(method, params).unwrap_or_else(|| invalid_params(method, None))
}

/// `-32601` for an unknown method; `-32602` saying why when the params do not fit a known one; `None` when
/// they do fit.
fn params_problem(method: &str, params: Option<&Value>) -> Option<ErrorData> {
    let Some((_, fits)) = CLIENT_REQUESTS.iter().find(|(name, _)| *name == method) else {
        return Some(method_not_found(method));
    };
    let detail = match params {
        Some(p) if !p.is_object() && !p.is_null() => "params must be an object".to_string(),
        _ => fits(method, params).err()?.to_string(),
    };
    Some(invalid_params(method, Some(&detail)))
}

type Fits = fn(&str, Option<&Value>) -> Result<(), serde_json::Error>;

/// Whether `params` parse as `T`, the request type rmcp gives `method`.
fn fits<T: DeserializeOwned>(method: &str, params: Option<&Value>) -> Result<(), serde_json::Error> {
    let mut request = Map::new();
    request.insert("method".into(), method.into());
    if let Some(params) = params {
        request.insert("params".into(), params.clone());
    }
    serde_json::from_value::<T>(Value::Object(request)).map(drop)
}

macro_rules! client_requests {
    ($($method:ty => $request:ty),* $(,)?) => {
        &[$((<$method as ConstString>::VALUE, fits::<$request> as Fits)),*]
    };
}

/// Every request a client may send that rmcp models with typed params (its `ClientRequest`), by method name.
#[allow(deprecated)]
const CLIENT_REQUESTS: &[(&str, Fits)] = client_requests![
    PingRequestMethod => PingRequest,
    InitializeResultMethod => InitializeRequest,
    DiscoverRequestMethod => DiscoverRequest,
    CompleteRequestMethod => CompleteRequest,
    SetLevelRequestMethod => SetLevelRequest,
    GetPromptRequestMethod => GetPromptRequest,
    ListPromptsRequestMethod => ListPromptsRequest,
    ListResourcesRequestMethod => ListResourcesRequest,
    ListResourceTemplatesRequestMethod => ListResourceTemplatesRequest,
    ReadResourceRequestMethod => ReadResourceRequest,
    SubscriptionsListenRequestMethod => SubscriptionsListenRequest,
    SubscribeRequestMethod => SubscribeRequest,
    UnsubscribeRequestMethod => UnsubscribeRequest,
    CallToolRequestMethod => CallToolRequest,
    ListToolsRequestMethod => ListToolsRequest,
    GetTaskMethod => GetTaskRequest,
    UpdateTaskMethod => UpdateTaskRequest,
    CancelTaskMethod => CancelTaskRequest,
    ListSkillsRequestMethod => ListSkillsRequest,
    GetSkillRequestMethod => GetSkillRequest,
    ReadResourceDirectoryRequestMethod => ReadResourceDirectoryRequest,
];

fn invalid_request(id: Option<RequestId>, why: &str) -> ErrorAnswer {
    ErrorAnswer::new(id, ErrorData::invalid_request(format!("Invalid Request: {why}"), None))
}

fn method_not_found(method: &str) -> ErrorData {
    ErrorData::new(ErrorCode::METHOD_NOT_FOUND, format!("Method not found: {}", quoted(method, MAX_NAME_BYTES)), None)
}

fn invalid_params(method: &str, detail: Option<&str>) -> ErrorData {
    let message = match detail {
        Some(detail) => format!("Invalid params for {method}: {}", clipped(detail, MAX_DETAIL_BYTES)),
        None => format!("Invalid params for {method}"),
    };
    ErrorData::invalid_params(message, None)
}

/// `text` as a quoted string literal, escaped (quotes, backslashes, anything not printable) and cut to at most
/// `max` bytes between the quotes, followed by `…` when cut. For names a peer chose, in answers and in logs.
pub fn quoted(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(max.min(text.len()) + 8);
    out.push('"');
    let cut = push_escaped(&mut out, text, max, true);
    out.push('"');
    if cut {
        out.push('…');
    }
    out
}

/// `text` with anything not printable escaped, cut to at most `max` bytes (then ending in `…`). For
/// explanations that may quote what a peer sent.
pub fn clipped(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(max.min(text.len()) + 4);
    if push_escaped(&mut out, text, max, false) {
        out.push('…');
    }
    out
}

/// Append `text` to `out` with non-printable characters (and, if `quote`, quotes and backslashes) escaped as
/// Rust's `escape_debug` does, stopping before `max` appended bytes would be exceeded. True when cut.
fn push_escaped(out: &mut String, text: &str, max: usize, quote: bool) -> bool {
    let start = out.len();
    for c in text.chars() {
        let escape = match c {
            '"' | '\\' => quote,
            '\'' => false,
            _ => c.escape_debug().len() > 1,
        };
        let width = if escape { c.escape_debug().len() } else { c.len_utf8() };
        if out.len() - start + width > max {
            return true;
        }
        if escape {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn answer(raw: &str) -> Option<Value> {
        answer_unparsed(raw.as_bytes()).map(|a| serde_json::to_value(a).unwrap())
    }

    #[test]
    fn requests_and_non_messages_are_answered_notifications_and_responses_never() {
        let code = |raw: &str| answer(raw).map(|a| (a["error"]["code"].clone(), a.get("id").cloned()));
        assert_eq!(code("{"), Some((json!(-32700), None)));
        assert_eq!(code("[]"), Some((json!(-32600), None)));
        assert_eq!(code(r#"{"jsonrpc":"2.0","id":[1],"method":"ping"}"#), Some((json!(-32600), None)));
        assert_eq!(code(r#"{"jsonrpc":"2.0","id":"a","method":9}"#), Some((json!(-32600), Some(json!("a")))));
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","id":3,"method":"nope","params":1}"#),
            Some((json!(-32601), Some(json!(3))))
        );
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","id":4,"method":"ping","params":1}"#),
            Some((json!(-32602), Some(json!(4))))
        );
        for silent in [
            r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":1}"#,
            r#"{"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error"}}"#,
            r#"{"jsonrpc":"2.0","id":1,"result":5,"method":"x"}"#,
        ] {
            assert_eq!(answer(silent), None, "{silent}");
        }
    }

    #[test]
    fn our_own_answers_are_never_answered() {
        for raw in ["{", "[]", r#"{"jsonrpc":"2.0","id":3,"method":"nope"}"#] {
            let first = answer(raw).unwrap().to_string();
            assert_eq!(answer(&first), None, "{first}");
        }
        assert_eq!(answer(&serde_json::to_string(&ErrorAnswer::oversized()).unwrap()), None);
    }

    #[test]
    fn params_that_do_not_fit_say_why_and_unknown_methods_are_clipped() {
        let error = custom_request_error("tools/call", Some(&json!({"arguments": {}})));
        assert_eq!(error.code, ErrorCode::INVALID_PARAMS);
        assert_eq!(error.message, "Invalid params for tools/call: missing field `name`");
        let error = custom_request_error(&"m\u{1b}\"".repeat(1000), None);
        assert_eq!(error.code, ErrorCode::METHOD_NOT_FOUND);
        assert!(error.message.len() <= "Method not found: \"\"…".len() + MAX_NAME_BYTES, "{}", error.message);
        assert!(error.message.starts_with(r#"Method not found: "m\u{1b}\"m"#), "{}", error.message);
    }

    #[test]
    fn clipping_keeps_whole_characters() {
        assert_eq!(quoted("ab", 64), r#""ab""#);
        assert_eq!(quoted("€€€", 7), "\"€€\"…");
        assert_eq!(clipped("line\nbreak \"quoted\"", 64), "line\\nbreak \"quoted\"");
    }
}
