//! The small HTML kit every page shares (the approval page, the sandbox's pay and home pages): `maud` templates,
//! so text is escaped by construction (a description, a customer's name or a message body can never become
//! markup), one stylesheet, and the headers a page that can approve payments needs (no framing, no caching,
//! no scripts, no referrer).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
pub use maud::{Markup, PreEscaped, html};

/// The stylesheet: inline, so the pages need no other route and the CSP can forbid every other source.
const STYLE: &str = "body{font-family:system-ui,sans-serif;background:#f4f5f7;margin:0;color:#1d1f24}\
main{max-width:28rem;margin:3rem auto;background:#fff;padding:2rem;border-radius:12px;box-shadow:0 2px 12px #0002}\
main.wide{max-width:48rem}\
.badge{display:inline-block;background:#fff3cd;color:#7a5b00;padding:.2rem .6rem;border-radius:6px;font-size:.8rem}\
h1{font-size:2.2rem;margin:.8rem 0}h2{font-size:1.2rem;margin:1.4rem 0 .4rem}label{display:block;margin:.6rem 0;color:#444}\
button{margin-top:1rem;width:100%;padding:.8rem;font-size:1.1rem;background:#2b59ff;color:#fff;border:0;border-radius:8px;cursor:pointer}\
button.secondary{background:#fff;color:#b3261e;border:1px solid #b3261e}\
.id{color:#888;font-size:.8rem}#paid,.ok{color:#16794c;font-weight:600}.bad{color:#b3261e;font-weight:600}\
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #eee;vertical-align:top}\
p,td,a{overflow-wrap:anywhere}pre{white-space:pre-wrap;word-break:break-word;background:#f7f7f9;padding:.6rem;border-radius:6px}";

/// A whole page: doctype, head with `title`, the stylesheet, and `body` inside `<main>` (`wide` for tables).
/// `refresh_secs` reloads the page that often (lists a person watches).
pub fn page(title: &str, wide: bool, refresh_secs: Option<u32>, body: Markup) -> Markup {
    html! {
        (maud::DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                @if let Some(secs) = refresh_secs {
                    meta http-equiv="refresh" content=(secs);
                }
                title { (title) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                main class=[wide.then_some("wide")] { (body) }
            }
        }
    }
}

/// A page as a response, with headers that keep it from being framed (clickjacking an Approve button), cached,
/// scripted or leaking its URL (which may carry an approval id) to another site in a `Referer`. `same-origin`,
/// not `no-referrer`: under `no-referrer` Chromium sends `Origin: null` on the page's own form POST, which the
/// same-origin checks must refuse.
pub fn respond(status: StatusCode, markup: Markup) -> Response {
    let mut response = (status, markup.into_string()).into_response();
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
        (header::CACHE_CONTROL, "no-store"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "same-origin"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// A page that only says something: a title and a sentence (errors, "not found", "already decided").
pub fn message(status: StatusCode, badge: &str, title: &str, detail: &str) -> Response {
    respond(
        status,
        page(
            title,
            false,
            None,
            html! {
                p class="badge" { (badge) }
                h1 { (title) }
                p { (detail) }
            },
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_by_construction() {
        let hostile = "<script>\"x\" & 'y'</script>";
        let rendered = page(hostile, false, None, html! { p { (hostile) } }).into_string();
        assert!(!rendered.contains("<script>"), "{rendered}");
        assert!(rendered.contains("&lt;script&gt;&quot;x&quot; &amp; 'y'&lt;/script&gt;"), "{rendered}");
    }

    #[test]
    fn pages_cannot_be_framed_or_cached() {
        let response = message(StatusCode::OK, "b", "t", "d");
        assert_eq!(response.headers()[header::X_FRAME_OPTIONS], "DENY");
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
        // A page's own form POST must keep its origin (under no-referrer Chromium sends `Origin: null`).
        assert_eq!(response.headers()[header::REFERRER_POLICY], "same-origin");
        assert!(
            response.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap().contains("frame-ancestors 'none'")
        );
    }
}
