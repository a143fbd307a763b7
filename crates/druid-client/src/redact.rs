//! What is secret, decided in one place, and how it is hidden. Every printer of druidctl goes
//! through here: errors and `-v` lines (URLs), spec diffs (`plan`, `reconcile`, drift, the
//! incident), `config view`, notifications and JSON documents.
//!
//! Secret: a URL's password (user-info), a query parameter named like a credential, and any
//! value under a key that says password, secret, token, credential, api key, private key or
//! JAAS (Kafka's `sasl.jaas.config`, which carries the SASL password).
//!
//! ```
//! use druid_client::redact;
//!
//! assert!(redact::is_secret_key("sasl.jaas.config"));
//! assert_eq!(redact::url_text("https://admin:hunter2@druid/x?token=abc&a=1"), "https://admin:****@druid/x?token=****&a=1");
//! ```

use serde_json::Value;

/// What a hidden value is replaced by.
pub const MASK: &str = "****";

/// What a diff shows for a secret value that changed: the change stays visible, its value
/// does not.
pub const SECRET_CHANGED: &str = "(secret changed)";

/// Whether a key (a JSON field, a consumer property, a query parameter, a dotted setting)
/// names a secret.
pub fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    [
        "password",
        "passwd",
        "secret",
        "token",
        "credential",
        "jaas",
        "apikey",
        "api_key",
        "api-key",
        "private.key",
        "private_key",
    ]
    .iter()
    .any(|word| key.contains(word))
        || matches!(key.rsplit(['.', '_', '-']).next(), Some("auth" | "authorization" | "signature" | "sig"))
}

/// A URL with its password and credential-like query values hidden.
pub fn url(url: &reqwest::Url) -> String {
    let mut url = url.clone();
    if url.password().is_some() {
        let _ = url.set_password(Some(MASK));
    }
    if url.query().is_some() {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(key, value)| {
                let value = if is_secret_key(&key) { MASK.to_owned() } else { value.into_owned() };
                (key.into_owned(), value)
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    url.to_string()
}

/// Text that may be a URL, or contain one, or not parse at all: a parsed URL as [`url`];
/// otherwise whatever stands between `://` and the authority's last `@`, and the values of
/// credential-like query parameters, are hidden.
pub fn url_text(text: &str) -> String {
    if let Ok(parsed) = reqwest::Url::parse(text)
        && parsed.has_host()
    {
        let secret_query = parsed.query_pairs().any(|(key, _)| is_secret_key(&key));
        // Nothing to hide: the text as written (no normalisation).
        return if parsed.password().is_some() || secret_query { url(&parsed) } else { text.to_owned() };
    }
    let mut shown = match text.find("://").map(|index| index + 3) {
        Some(start) => {
            let end = text[start..].find(['/', '?', '#']).map_or(text.len(), |end| start + end);
            match text[start..end].rfind('@') {
                Some(at) => format!("{}{MASK}{}", &text[..start], &text[start + at..]),
                None => text.to_owned(),
            }
        }
        None => match text.rfind('@') {
            Some(at) if !text.contains(' ') => format!("{MASK}{}", &text[at..]),
            _ => text.to_owned(),
        },
    };
    if let Some(query) = shown.find('?') {
        let (head, tail) = shown.split_at(query + 1);
        let hidden: Vec<String> = tail
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if is_secret_key(key) => format!("{key}={MASK}"),
                _ => pair.to_owned(),
            })
            .collect();
        shown = format!("{head}{}", hidden.join("&"));
    }
    shown
}

/// Hides, in place, every value under a secret key and the secrets of every string that
/// holds a URL, at any depth.
pub fn json(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map.iter_mut() {
                if is_secret_key(key) && !inner.is_null() {
                    *inner = Value::String(MASK.to_owned());
                } else {
                    json(inner);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(json),
        Value::String(text) if text.contains("://") => *text = url_text(text),
        _ => {}
    }
}

/// [`json`] on a copy.
pub fn json_copy(value: &Value) -> Value {
    let mut copy = value.clone();
    json(&mut copy);
    copy
}

/// Whether a JSON pointer (`/spec/ioConfig/consumerProperties/sasl.jaas.config`) passes
/// through a secret key.
pub fn is_secret_pointer(pointer: &str) -> bool {
    pointer.split('/').any(|segment| is_secret_key(&segment.replace("~1", "/").replace("~0", "~")))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn secret_keys_are_named_once() {
        for key in [
            "password",
            "druid.password",
            "sasl.jaas.config",
            "ssl.keystore.password",
            "ssl.key.password",
            "token",
            "access_token",
            "aws_secret_access_key",
            "X-Api-Key",
            "basic.auth.user.info.credentials",
        ] {
            assert!(is_secret_key(key), "{key}");
        }
        for key in ["bootstrap.servers", "security.protocol", "topic", "datasource", "sasl.mechanism", "url"]
        {
            assert!(!is_secret_key(key), "{key}");
        }
    }

    #[test]
    fn urls_lose_their_passwords_and_credential_queries() {
        assert_eq!(url_text("http://admin:SECRET@host:8888/x"), "http://admin:****@host:8888/x");
        assert_eq!(url_text("https://host/x?token=abc&page=2"), "https://host/x?token=****&page=2");
        assert_eq!(url_text("http://druid:8888"), "http://druid:8888");
        // Not a URL at all: still nothing of the credentials.
        assert_eq!(url_text("http://admin:SECRET@dru id:8888"), "http://****@dru id:8888");
        assert_eq!(url_text("admin:SECRET@druid"), "****@druid");
        assert_eq!(url_text("no url here"), "no url here");
    }

    #[test]
    fn json_hides_secret_values_at_any_depth() {
        let mut value = json!({
            "consumerProperties": {
                "bootstrap.servers": "kafka:9093",
                "sasl.jaas.config": "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\" password=\"p4ss\";"
            },
            "list": [{"token": "t0k"}, "http://u:pw@h/"]
        });
        json(&mut value);
        let text = value.to_string();
        assert!(!text.contains("p4ss") && !text.contains("t0k") && !text.contains(":pw@"), "{text}");
        assert_eq!(value["consumerProperties"]["bootstrap.servers"], "kafka:9093");
        assert!(is_secret_pointer("/spec/ioConfig/consumerProperties/sasl.jaas.config"));
        assert!(!is_secret_pointer("/spec/ioConfig/topic"));
    }
}
