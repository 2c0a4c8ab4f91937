//! The operator console: one self-contained page (`GET /`) over the heal API.
//!
//! The HTML, CSS and JavaScript are embedded in the binary and served from three routes, so the
//! page works offline and its Content-Security-Policy can forbid inline scripts and styles. The
//! page itself holds no data and no secret: everything it shows comes from `/api/heals` and
//! `/api/events`, with the bearer token the operator types in when the API asks for one.

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

const INDEX_HTML: &str = include_str!("index.html");
const CONSOLE_JS: &str = include_str!("console.js");
const CONSOLE_CSS: &str = include_str!("console.css");

/// The page's Content-Security-Policy: only this origin's own script, style and API; no inline
/// script or style, no plugins, no framing, no form posts, no foreign connections.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// The console's routes: `/` (the page), `/console.js`, `/console.css`. Stateless, so it merges
/// into any router. They carry no data, so they need no token: the page asks for one when the
/// API answers 401.
pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    Router::new()
        .route("/", get(|| async { asset("text/html; charset=utf-8", INDEX_HTML) }))
        .route("/console.js", get(|| async { asset("text/javascript; charset=utf-8", CONSOLE_JS) }))
        .route("/console.css", get(|| async { asset("text/css; charset=utf-8", CONSOLE_CSS) }))
}

/// One embedded file with the security headers every console response carries.
fn asset(content_type: &'static str, body: &'static str) -> Response {
    let headers: [(HeaderName, HeaderValue); 7] = [
        (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
        (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY)),
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (HeaderName::from_static("cross-origin-opener-policy"), HeaderValue::from_static("same-origin")),
    ];
    (headers, body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `on…=` attributes (inline event handlers) in markup.
    fn inline_handlers(html: &str) -> Vec<&str> {
        let bytes = html.as_bytes();
        let mut found = Vec::new();
        for (i, _) in html.match_indices(" on") {
            let name_end = (i + 3..bytes.len()).find(|&j| !bytes[j].is_ascii_lowercase()).unwrap_or(bytes.len());
            if name_end > i + 3 && bytes.get(name_end) == Some(&b'=') {
                found.push(&html[i + 1..name_end]);
            }
        }
        found
    }

    #[test]
    fn page_has_no_inline_script_style_or_foreign_origin() {
        assert!(INDEX_HTML.contains(r#"<script src="/console.js" defer></script>"#));
        assert_eq!(INDEX_HTML.matches("<script").count(), 1, "one script, loaded from /console.js");
        assert!(!INDEX_HTML.contains("<style"), "styles come from /console.css");
        assert_eq!(inline_handlers(INDEX_HTML), Vec::<&str>::new());
        for banned in ["style=", "javascript:", "http://", "https://", "//cdn"] {
            assert!(!INDEX_HTML.contains(banned), "index.html contains {banned:?}");
        }
        assert_eq!(inline_handlers(r#"<a onclick="x()">on air</a>"#), ["onclick"]);
    }

    #[test]
    fn script_never_writes_markup_from_strings() {
        for banned in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
            "new Function",
            "setAttribute('style'",
            "setAttribute('on",
        ] {
            assert!(!CONSOLE_JS.contains(banned), "console.js uses {banned}");
        }
        // The only absolute URL is the SVG namespace name, which is never fetched.
        let js = CONSOLE_JS.replace("'http://www.w3.org/2000/svg'", "");
        assert!(!js.contains("http://") && !js.contains("https://"), "console.js names another origin");
        assert!(!CONSOLE_CSS.contains("url(") && !CONSOLE_CSS.contains("@import"), "console.css loads nothing");
    }

    #[test]
    fn policy_forbids_inline_script() {
        assert!(CONTENT_SECURITY_POLICY.contains("script-src 'self';"));
        assert!(!CONTENT_SECURITY_POLICY.contains("unsafe"));
    }
}
