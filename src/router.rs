//! The handwritten router: method + path pattern → route, 404 versus 405 (with `Allow`), and
//! the one place where request paths are percent-decoded and checked for traversal.
//!
//! Static prefixes: `/management/` (auth, health, ready, metrics) and `/taxii2/` (TAXII 2.1). A path that
//! matches no pattern here may still be a TAXII 1.x service address; those live in the
//! database and are looked up at request time by the caller ([`Resolved::Unmatched`]).
//!
//! A trailing slash is optional on every route: TAXII 2.1 clients are obliged to send it, yet
//! taxii2-client asks for `{root}/status/{id}` without one.

/// What a path leads to. Captured path parameters are in [`Match::params`], in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    Health,
    Ready,
    Login,
    Metrics,
    Discovery,
    ApiRoot,
    Status,
    Collections,
    Collection,
    Manifest,
    Objects,
    AddObjects,
    Object,
    DeleteObject,
    Versions,
}

impl Route {
    pub const ALL: &[Route] = &[
        Route::Health,
        Route::Ready,
        Route::Login,
        Route::Metrics,
        Route::Discovery,
        Route::ApiRoot,
        Route::Status,
        Route::Collections,
        Route::Collection,
        Route::Manifest,
        Route::Objects,
        Route::AddObjects,
        Route::Object,
        Route::DeleteObject,
        Route::Versions,
    ];

    /// The route's fixed name in metrics (raw paths would be unbounded label values).
    pub fn label(self) -> &'static str {
        match self {
            Route::Health => "health",
            Route::Ready => "ready",
            Route::Login => "login",
            Route::Metrics => "metrics",
            Route::Discovery => "discovery",
            Route::ApiRoot => "api_root",
            Route::Status => "status",
            Route::Collections => "collections",
            Route::Collection => "collection",
            Route::Manifest => "manifest",
            Route::Objects => "objects",
            Route::AddObjects => "add_objects",
            Route::Object => "object",
            Route::DeleteObject => "delete_object",
            Route::Versions => "versions",
        }
    }
}

#[derive(Debug)]
pub struct Match {
    pub route: Route,
    /// Percent-decoded values of the `{…}` segments.
    pub params: Vec<String>,
}

#[derive(Debug)]
pub enum Resolved {
    Found(Match),
    /// The path exists but not for this method; `Allow` lists the methods that do.
    MethodNotAllowed(Vec<&'static str>),
    /// No static route: candidates for the TAXII 1.x service lookup, else 404.
    Unmatched,
    /// Undecodable or traversing path (400).
    BadPath(&'static str),
}

/// `(pattern, [(method, route)])`, written without the optional trailing slash; `{}` takes one
/// segment. GET routes also answer HEAD.
const TABLE: &[(&str, &[(&str, Route)])] = &[
    ("/management/health", &[("GET", Route::Health)]),
    ("/management/ready", &[("GET", Route::Ready)]),
    ("/management/auth", &[("POST", Route::Login)]),
    ("/management/metrics", &[("GET", Route::Metrics)]),
    ("/taxii2", &[("GET", Route::Discovery)]),
    ("/taxii2/{}", &[("GET", Route::ApiRoot)]),
    ("/taxii2/{}/status/{}", &[("GET", Route::Status)]),
    ("/taxii2/{}/collections", &[("GET", Route::Collections)]),
    ("/taxii2/{}/collections/{}", &[("GET", Route::Collection)]),
    ("/taxii2/{}/collections/{}/manifest", &[("GET", Route::Manifest)]),
    ("/taxii2/{}/collections/{}/objects", &[("GET", Route::Objects), ("POST", Route::AddObjects)]),
    ("/taxii2/{}/collections/{}/objects/{}", &[("GET", Route::Object), ("DELETE", Route::DeleteObject)]),
    ("/taxii2/{}/collections/{}/objects/{}/versions", &[("GET", Route::Versions)]),
];

pub fn resolve(method: &str, raw_path: &str) -> Resolved {
    let mut segments = match decode_segments(raw_path) {
        Ok(s) => s,
        Err(e) => return Resolved::BadPath(e),
    };
    if segments.len() > 2 && segments.last().is_some_and(String::is_empty) {
        segments.pop();
    }
    let mut allowed: Vec<&'static str> = Vec::new();
    for (pattern, methods) in TABLE {
        let Some(params) = match_pattern(pattern, &segments) else { continue };
        for (m, route) in methods.iter() {
            if *m == method || (method == "HEAD" && *m == "GET") {
                return Resolved::Found(Match { route: *route, params });
            }
        }
        for (m, _) in methods.iter() {
            allowed.push(m);
            if *m == "GET" {
                allowed.push("HEAD");
            }
        }
    }
    if allowed.is_empty() { Resolved::Unmatched } else { Resolved::MethodNotAllowed(allowed) }
}

fn match_pattern(pattern: &str, segments: &[String]) -> Option<Vec<String>> {
    let pat: Vec<&str> = pattern.split('/').collect();
    if pat.len() != segments.len() {
        return None;
    }
    let mut params = Vec::new();
    for (p, s) in pat.iter().zip(segments) {
        if *p == "{}" {
            if s.is_empty() {
                return None;
            }
            params.push(s.clone());
        } else if p != s {
            return None;
        }
    }
    Some(params)
}

/// Splits a raw absolute path at `/` and percent-decodes each segment. An empty last segment
/// means a trailing slash. `.`/`..` segments, encoded `/`, NUL and invalid UTF-8 are refused.
pub fn decode_segments(raw: &str) -> Result<Vec<String>, &'static str> {
    if !raw.starts_with('/') {
        return Err("the request target must be an absolute path");
    }
    let mut out = Vec::new();
    for seg in raw.split('/') {
        let s = percent_decode(seg).ok_or("invalid percent-encoding in the path")?;
        if s == "." || s == ".." {
            return Err("dot segments are not allowed in the path");
        }
        if s.contains('/') || s.contains('\0') {
            return Err("encoded slash or NUL in the path");
        }
        out.push(s);
    }
    Ok(out)
}

/// `a=1&b=%5Bx%5D` → pairs, percent-decoded (`+` is a space, as browsers and Python encode).
/// An encoded NUL is refused as in paths: PostgreSQL refuses NUL in text parameters, so
/// `match[id]=%00` was a 500 (tests/hostile_queries.rs).
pub fn query_pairs(query: &str) -> Result<Vec<(String, String)>, &'static str> {
    let mut out = Vec::new();
    for part in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        let k = percent_decode(&k.replace('+', " ")).ok_or("invalid percent-encoding in the query")?;
        let v = percent_decode(&v.replace('+', " ")).ok_or("invalid percent-encoding in the query")?;
        if k.contains('\0') || v.contains('\0') {
            return Err("NUL in the query");
        }
        out.push((k, v));
    }
    Ok(out)
}

/// Decodes `%XX` escapes; `None` for a bad escape or invalid UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
    if !s.contains('%') {
        return Some(s.to_string());
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_and_methods() {
        assert!(
            matches!(resolve("GET", "/management/health"), Resolved::Found(m) if m.route == Route::Health)
        );
        assert!(
            matches!(resolve("HEAD", "/management/ready"), Resolved::Found(m) if m.route == Route::Ready)
        );
        match resolve("POST", "/management/health") {
            Resolved::MethodNotAllowed(a) => assert_eq!(a, vec!["GET", "HEAD"]),
            other => panic!("{other:?}"),
        }
        assert!(matches!(resolve("GET", "/management/health/"), Resolved::Found(_)));
        match resolve("GET", "/taxii2/r1/collections/c%2Dx/objects/indicator--1/versions/") {
            Resolved::Found(m) => {
                assert_eq!(m.route, Route::Versions);
                assert_eq!(m.params, vec!["r1", "c-x", "indicator--1"]);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(resolve("GET", "/taxii2/"), Resolved::Found(m) if m.route == Route::Discovery));
        assert!(
            matches!(resolve("GET", "/taxii2/r/status/x"), Resolved::Found(m) if m.route == Route::Status)
        );
        assert!(matches!(resolve("GET", "/taxii2/r/collections/c/objects/o//"), Resolved::Unmatched));
        assert!(matches!(resolve("GET", "/nothing"), Resolved::Unmatched));
    }

    #[test]
    fn traversal_and_bad_escapes_refused() {
        for p in ["/management/../etc/passwd", "/a/%2e%2e/b", "/a%2fb", "/a%zz", "/a%00", "/%ff", "relative"]
        {
            assert!(matches!(resolve("GET", p), Resolved::BadPath(_)), "{p}");
        }
        assert_eq!(percent_decode("caf%C3%A9").as_deref(), Some("café"));
        assert!(query_pairs("match[id]=%00").is_err());
        assert!(query_pairs("a%00=1").is_err());
    }
}
