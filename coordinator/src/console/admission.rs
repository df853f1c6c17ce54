//! Who the console admits: the one-time token of the address it printed, spent for a session
//! cookie; the console's own Host; and the page that opens the browser on that address without
//! the token ever being on a command line.

use std::sync::Arc;

use anyhow::Context;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{Console, Page};

/// The cookie that carries the session once the token is spent, named with the console's
/// port (browsers share cookies between the ports of one host; the name keeps two consoles
/// apart, and the session is worth nothing without the console's own form key for a POST).
pub(super) fn cookie_name(port: u16) -> String {
    format!("cdg_console_{port}")
}

pub(super) fn random_hex(bytes: usize) -> anyhow::Result<String> {
    use ring::rand::SecureRandom;
    let mut b = vec![0u8; bytes];
    ring::rand::SystemRandom::new()
        .fill(&mut b)
        .map_err(|_| anyhow::anyhow!("the system's random generator failed"))?;
    Ok(hex::encode(b))
}

/// Equal without telling by its timing how much of `a` matched.
pub(super) fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[derive(Deserialize)]
pub(super) struct Token {
    jeton: Option<String>,
}

/// Admits the request: the Host is the console's, and the session cookie, or the one-time
/// token (which it then spends, answering with the cookie and the same address without it).
pub(super) async fn admit(
    State(c): State<Arc<Console>>,
    Query(token): Query<Token>,
    headers: HeaderMap,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if !c.hosts.iter().any(|h| h == host) {
        return Page::error(
            StatusCode::FORBIDDEN,
            format!(
                "Adresse {host:?} refusée : la console ne répond qu'à {}.",
                c.hosts[0]
            ),
        )
        .into_response();
    }
    if let Some(given) = token.jeton {
        let mut spent = c.token.lock().unwrap_or_else(|p| p.into_inner());
        if spent.as_deref().is_some_and(|t| same(t, &given)) {
            *spent = None;
            let path = request.uri().path().to_string();
            let mut r = Redirect::to(&path).into_response();
            let cookie = format!(
                "{}={}; HttpOnly; SameSite=Strict; Path=/",
                c.cookie, c.session
            );
            r.headers_mut()
                .insert(header::SET_COOKIE, cookie.parse().expect("a valid cookie"));
            return r;
        }
        return Page::error(StatusCode::FORBIDDEN, "Ce jeton n'est pas valable ou a déjà servi : relancez `cdg console` et ouvrez l'adresse qu'elle affiche.".into()).into_response();
    }
    let cookies = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'));
    let admitted = cookies
        .filter_map(|kv| kv.trim().split_once('='))
        .any(|(k, v)| k == c.cookie && same(v, &c.session));
    if !admitted {
        return Page::error(StatusCode::UNAUTHORIZED, "Accès refusé : ouvrez la console par l'adresse que `cdg console` affiche (elle porte un jeton à usage unique).".into()).into_response();
    }
    next.run(request).await
}

/// Opens the browser on `address` without putting its token on a command line, which any user
/// of the machine can read (`/proc/*/cmdline`): through a page of this user's only (mode 0600)
/// that redirects to it, as notebook servers do. Returns that file, removed at the end.
pub(super) fn open_browser(address: &str) -> anyhow::Result<std::path::PathBuf> {
    let path = redirect_file(address)?;
    let opener = if cfg!(windows) {
        "explorer"
    } else if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    std::process::Command::new(opener)
        .arg(&path)
        .spawn()
        .with_context(|| format!("{opener} {}", path.display()))?;
    Ok(path)
}

/// The page that redirects to `address`, written for this user only.
fn redirect_file(address: &str) -> anyhow::Result<std::path::PathBuf> {
    use std::io::Write;
    let path = std::env::temp_dir().join(format!("cdg-console-{}.html", random_hex(8)?));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let escaped = crate::report::format::escape(address);
    options
        .open(&path)
        .and_then(|mut f| {
            write!(
                f,
                "<!DOCTYPE html><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" \
                 content=\"0;url={escaped}\"><p><a href=\"{escaped}\">Console de l'observatoire</a></p>"
            )
        })
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_redirect_page_is_its_users_alone_and_leads_to_the_address() {
        let address = "http://127.0.0.1:7459/?jeton=0123abcd";
        let path = redirect_file(address).unwrap();
        let page = std::fs::read_to_string(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::remove_file(&path).unwrap();
        assert!(
            page.contains("content=\"0;url=http://127.0.0.1:7459/?jeton=0123abcd\""),
            "{page}"
        );
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd") && !same("abc", "ab") && !same("", "a"));
        assert_eq!(random_hex(16).unwrap().len(), 32);
        assert_ne!(random_hex(16).unwrap(), random_hex(16).unwrap());
    }
}
