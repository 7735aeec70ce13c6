//! The health endpoints every Kubernetes component serves (`/healthz`,
//! `/livez`, `/readyz`), answered as k8s.io/apiserver's healthz package
//! answers them, so that probes, `kubectl get --raw '/readyz?verbose'` and
//! scripts that read the listing see what they see in Kubernetes:
//!
//! - `GET /readyz`: `200 ok` when every check passes;
//! - `?verbose`: one `[+]name ok` line per check, then `readyz check passed`;
//! - `?exclude=name` (repeatable): that check is listed as
//!   `[+]name excluded: ok` and not run; a name matching no check is
//!   reported in a `warn:` line;
//! - a failing check: `500` with the whole listing, `[-]name failed: reason
//!   withheld`, then `readyz check failed`, whether verbose or not;
//! - `GET /readyz/name`: that check alone, `ok` or `500 internal server
//!   error: reason`; an unknown name is `404`.
//!
//! This crate holds only that logic; each component serves it over its
//! own HTTP stack.

use std::fmt::Write as _;

/// One named check. `run` returns why it fails.
pub struct Check<'a> {
    /// The name in the listing and in `/readyz/name`.
    pub name: &'static str,
    /// Runs the check.
    pub run: Box<dyn Fn() -> Result<(), String> + Send + Sync + 'a>,
}

impl<'a> Check<'a> {
    /// A check from a closure.
    pub fn new(
        name: &'static str,
        run: impl Fn() -> Result<(), String> + Send + Sync + 'a,
    ) -> Self {
        Check {
            name,
            run: Box::new(run),
        }
    }

    /// The check that always passes (`ping`, and `log`, whose Kubernetes
    /// counterpart only fails when the log cannot be flushed).
    pub fn passing(name: &'static str) -> Self {
        Check::new(name, || Ok(()))
    }
}

/// What to answer: the status code and the plain-text body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// 200, 404 or 500.
    pub status: u16,
    /// The body (`text/plain; charset=utf-8`).
    pub body: String,
}

/// Which endpoint a path names: `/healthz`, `/livez` or `/readyz`, and the
/// check after it (`/livez/ping`), if any.
pub fn endpoint(path: &str) -> Option<(&'static str, Option<&str>)> {
    for name in ["healthz", "livez", "readyz"] {
        let Some(rest) = path.strip_prefix('/').and_then(|p| p.strip_prefix(name)) else {
            continue;
        };
        return match rest {
            "" | "/" => Some((name, None)),
            r if r.starts_with('/') => Some((name, Some(&r[1..]))),
            _ => None,
        };
    }
    None
}

/// Answers `GET /{endpoint}[/{check}]?{query}` from `checks`.
pub fn answer(
    endpoint: &str,
    check: Option<&str>,
    query: Option<&str>,
    checks: &[Check<'_>],
) -> Answer {
    if let Some(name) = check {
        return match checks.iter().find(|c| c.name == name) {
            None => Answer {
                status: 404,
                body: "404 page not found\n".into(),
            },
            Some(c) => match (c.run)() {
                Ok(()) => ok("ok".into()),
                Err(why) => failed(format!("internal server error: {why}\n")),
            },
        };
    }
    let (verbose, excluded) = parse_query(query.unwrap_or(""));
    let mut listing = String::new();
    let mut failing = false;
    for c in checks {
        if excluded.iter().any(|e| e == c.name) {
            let _ = writeln!(listing, "[+]{} excluded: ok", c.name);
            continue;
        }
        match (c.run)() {
            Ok(()) => {
                let _ = writeln!(listing, "[+]{} ok", c.name);
            }
            Err(_) => {
                failing = true;
                let _ = writeln!(listing, "[-]{} failed: reason withheld", c.name);
            }
        }
    }
    let mut unmatched: Vec<&str> = excluded
        .iter()
        .map(String::as_str)
        .filter(|e| !checks.iter().any(|c| c.name == *e))
        .collect();
    if !unmatched.is_empty() {
        unmatched.sort_unstable();
        unmatched.dedup();
        let quoted: Vec<String> = unmatched.iter().map(|e| format!("{e:?}")).collect();
        let _ = writeln!(
            listing,
            "warn: some health checks cannot be excluded: no matches for {}",
            quoted.join(",")
        );
    }
    if failing {
        return failed(format!("{listing}{endpoint} check failed\n"));
    }
    if !verbose {
        return ok("ok".into());
    }
    ok(format!("{listing}{endpoint} check passed\n"))
}

fn ok(body: String) -> Answer {
    Answer { status: 200, body }
}

fn failed(body: String) -> Answer {
    Answer { status: 500, body }
}

/// `verbose` (present with any value) and every `exclude` value.
fn parse_query(query: &str) -> (bool, Vec<String>) {
    let mut verbose = false;
    let mut excluded = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "verbose" => verbose = true,
            "exclude" => excluded.push(percent_decode(value)),
            _ => {}
        }
    }
    (verbose, excluded)
}

/// Decodes `%XX` escapes and `+` (as a space) in a URL query component;
/// a malformed escape is kept as it is. Shared with the apiserver's query
/// parsing.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                match std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checks(fail: bool) -> Vec<Check<'static>> {
        vec![
            Check::passing("ping"),
            Check::passing("log"),
            Check::new("informer-sync", move || {
                if fail {
                    Err("not synced".into())
                } else {
                    Ok(())
                }
            }),
        ]
    }

    #[test]
    fn paths_name_the_endpoint_and_the_check() {
        assert_eq!(endpoint("/readyz"), Some(("readyz", None)));
        assert_eq!(endpoint("/livez/"), Some(("livez", None)));
        assert_eq!(endpoint("/healthz/ping"), Some(("healthz", Some("ping"))));
        assert_eq!(endpoint("/readyzz"), None);
        assert_eq!(endpoint("/version"), None);
    }

    #[test]
    fn passing_checks_say_ok_or_list_themselves_when_verbose() {
        assert_eq!(
            answer("readyz", None, None, &checks(false)),
            ok("ok".into())
        );
        let a = answer("readyz", None, Some("verbose"), &checks(false));
        assert_eq!(a.status, 200);
        assert_eq!(
            a.body,
            "[+]ping ok\n[+]log ok\n[+]informer-sync ok\nreadyz check passed\n"
        );
    }

    #[test]
    fn a_failing_check_lists_every_check_with_a_500() {
        for query in [None, Some("verbose=1")] {
            let a = answer("livez", None, query, &checks(true));
            assert_eq!(a.status, 500);
            assert_eq!(
                a.body,
                "[+]ping ok\n[+]log ok\n[-]informer-sync failed: reason withheld\nlivez check failed\n"
            );
        }
    }

    #[test]
    fn excluded_checks_are_not_run_and_unknown_ones_are_warned_about() {
        let a = answer(
            "readyz",
            None,
            Some("verbose&exclude=informer-sync&exclude=etc%64&exclude=a"),
            &checks(true),
        );
        assert_eq!(a.status, 200, "{}", a.body);
        assert_eq!(
            a.body,
            "[+]ping ok\n[+]log ok\n[+]informer-sync excluded: ok\n\
             warn: some health checks cannot be excluded: no matches for \"a\",\"etcd\"\n\
             readyz check passed\n"
        );
    }

    #[test]
    fn one_check_alone() {
        assert_eq!(
            answer("readyz", Some("ping"), None, &checks(true)),
            ok("ok".into())
        );
        let a = answer("readyz", Some("informer-sync"), None, &checks(true));
        assert_eq!(
            (a.status, a.body.as_str()),
            (500, "internal server error: not synced\n")
        );
        assert_eq!(
            answer("readyz", Some("nope"), None, &checks(false)).status,
            404
        );
    }

    #[test]
    fn percent_decoding_keeps_malformed_escapes() {
        assert_eq!(percent_decode("a%2Fb+c"), "a/b c");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
