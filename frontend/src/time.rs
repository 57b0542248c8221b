//! Times for people: "4 min ago" and local date-times, from the server's RFC 3339 strings.

use js_sys::Date;

fn millis(rfc3339: &str) -> Option<f64> {
    let ms = Date::parse(rfc3339);
    (!ms.is_nan()).then_some(ms)
}

/// How long ago, in the largest whole unit: "just now", "5 min ago", "3 h ago", "2 d ago".
pub fn age(rfc3339: &str) -> String {
    let Some(then) = millis(rfc3339) else {
        return String::new();
    };
    let secs = ((Date::now() - then) / 1000.0).max(0.0) as u64;
    match secs {
        0..=44 => "just now".into(),
        45..=3599 => format!("{} min ago", (secs / 60).max(1)),
        3600..=86_399 => format!("{} h ago", secs / 3600),
        _ => format!("{} d ago", secs / 86_400),
    }
}

/// The browser's local date and time, e.g. "28/11/2026, 14:07:03".
pub fn local(rfc3339: &str) -> String {
    match millis(rfc3339) {
        Some(ms) => Date::new(&ms.into())
            .to_locale_string("default", &js_sys::Object::new())
            .into(),
        None => rfc3339.to_string(),
    }
}
