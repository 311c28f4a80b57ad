//! The page frame of the console (header, navigation, sign-out, notices and
//! errors), its error pages and the sign-in page. maud escapes everything
//! it interpolates.

use super::{Page, Who, PREFIX};
use crate::api::Timestamp;
use maud::{html, Markup, DOCTYPE};

/// A time as the pages show it: `2026-12-07 14:05 UTC`.
pub(crate) fn time(t: Option<Timestamp>) -> String {
    match t {
        Some(t) => {
            let s = t.to_rfc3339();
            // 2026-12-07T14:05:09Z
            match (s.get(..10), s.get(11..16)) {
                (Some(d), Some(hm)) => format!("{d} {hm} UTC"),
                _ => s,
            }
        }
        None => "—".to_string(),
    }
}

/// The hidden CSRF field every form of a session carries.
pub(crate) fn csrf(who: &Who) -> Markup {
    html! { input type="hidden" name="csrf" value=(who.csrf); }
}

/// A whole page: the header with the navigation of `who` (none before
/// sign-in), a notice or an error, and `content`.
pub(crate) fn layout(
    who: Option<&Who>,
    title: &str,
    notice: Option<&str>,
    error: Option<&str>,
    content: Markup,
) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · SoftKMS console" }
                link rel="stylesheet" href={ (PREFIX) "/static/console.css" };
            }
            body {
                a.skip href="#main" { "Skip to the content" }
                header {
                    span.brand { "SoftKMS" }
                    @if let Some(w) = who {
                        nav aria-label="Main" {
                            @if w.is_so() {
                                a #nav-principals href={ (PREFIX) "/principals" } { "Principals" }
                                a #nav-access-keys href={ (PREFIX) "/access-keys" } { "Access keys" }
                            } @else {
                                a #nav-keys href={ (PREFIX) "/keys" } { "Keys" }
                            }
                            a #nav-audit href={ (PREFIX) "/audit" } { "Audit" }
                        }
                        span.who { "Signed in as " strong #whoami { (w.name()) } }
                        form #signout-form method="post" action={ (PREFIX) "/signout" } {
                            (csrf(w))
                            button #signout type="submit" { "Sign out" }
                        }
                    }
                }
                main #main tabindex="-1" {
                    h1 { (title) }
                    @if let Some(n) = notice {
                        p #notice role="status" { (n) }
                    }
                    @if let Some(e) = error {
                        p #error role="alert" { (e) }
                    }
                    (content)
                }
            }
        }
    }
}

/// A page that only says what went wrong, with `status`.
pub(crate) fn error_page(status: u16, who: Option<&Who>, title: &str, message: &str) -> Page {
    let back = who.map(|w| if w.is_so() { "/principals" } else { "/keys" });
    Page::html(
        status,
        layout(
            who,
            title,
            None,
            Some(message),
            html! {
                @if let Some(b) = back {
                    p { a href={ (PREFIX) (b) } { "Back" } }
                } @else {
                    p { a href={ (PREFIX) "/signin" } { "Sign in" } }
                }
            },
        ),
    )
}

/// 403.
pub(crate) fn forbidden(who: Option<&Who>, message: &str) -> Page {
    error_page(403, who, "Not allowed", message)
}

/// 404.
pub(crate) fn not_found(who: Option<&Who>) -> Page {
    error_page(404, who, "Not found", "There is no such page.")
}

/// 400.
pub(crate) fn bad_request(who: Option<&Who>, message: &str) -> Page {
    error_page(400, who, "Bad request", message)
}

/// The sign-in page: `csrf` is the value of the sign-in cookie, `error`
/// why the last try failed, `name` the name given then.
pub(crate) fn sign_in(csrf: &str, error: Option<&str>, name: &str) -> Markup {
    layout(
        None,
        "Sign in",
        None,
        error,
        html! {
            form #signin-form method="post" action={ (PREFIX) "/signin" } {
                input type="hidden" name="csrf" value=(csrf);
                fieldset {
                    legend { "Sign in as" }
                    label for="role-principal" {
                        input #role-principal type="radio" name="role" value="principal" checked;
                        " a principal (its name, or user for the token owner)"
                    }
                    label for="role-so" {
                        input #role-so type="radio" name="role" value="so";
                        " the security officer (SO)"
                    }
                }
                p {
                    label for="name" { "Name" }
                    input #name type="text" name="name" value=(name) autocomplete="username"
                        maxlength="64" autofocus;
                }
                p {
                    label for="pin" { "PIN" }
                    input #pin type="password" name="pin" autocomplete="current-password"
                        maxlength="256" required;
                }
                button #signin type="submit" { "Sign in" }
            }
            p.hint {
                "Each wrong PIN counts towards the principal's lock-out. "
                "A session ends after a while without use, and when you sign out."
            }
        },
    )
}
