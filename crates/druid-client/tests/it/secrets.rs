use druid_client::{Auth, ClientConfig, DruidClient, RetryPolicy};
use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const PASSWORD: &str = "hunter2-do-not-print";
const TOKEN: &str = "eyJ-secret-token";

#[tokio::test]
async fn basic_auth_is_sent_and_never_shown() {
    let server = MockServer::start().await;
    // base64("admin:hunter2-do-not-print")
    Mock::given(method("GET"))
        .and(path("/druid/indexer/v1/supervisor"))
        .and(header("authorization", "Basic YWRtaW46aHVudGVyMi1kby1ub3QtcHJpbnQ="))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!(["a"])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/druid/indexer/v1/supervisor/a/status"))
        .respond_with(ResponseTemplate::new(401).set_body_string("Unauthorized"))
        .mount(&server)
        .await;
    let mut config = ClientConfig::new(&server.uri()).unwrap();
    config.auth = Auth::Basic { user: "admin".into(), password: PASSWORD.to_owned().into() };
    config.retry = RetryPolicy::none();
    let debug_config = format!("{config:?}");
    let client = DruidClient::new(&config).unwrap();
    assert_eq!(client.supervisors().list().await.unwrap(), ["a"]);
    let err = client.supervisors().status("a").await.unwrap_err();

    for shown in [debug_config, format!("{client:?}"), err.to_string(), format!("{err:?}")] {
        assert!(!shown.contains(PASSWORD), "password shown in: {shown}");
        assert!(!shown.contains("YWRtaW46aHVudGVy"), "encoded password shown in: {shown}");
    }
}

#[tokio::test]
async fn bearer_tokens_are_sent_and_never_shown() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/status"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(ResponseTemplate::new(500).set_body_string("internal error"))
        .expect(1)
        .mount(&server)
        .await;
    let mut config = ClientConfig::new(&server.uri()).unwrap();
    config.auth = Auth::Bearer(TOKEN.to_owned().into());
    config.retry = RetryPolicy::none();
    let client = DruidClient::new(&config).unwrap();
    let err = client.server_status(druid_client::Service::Router).await.unwrap_err();
    for shown in [format!("{config:?}"), format!("{client:?}"), err.to_string(), format!("{err:?}")] {
        assert!(!shown.contains(TOKEN), "token shown in: {shown}");
    }
}

#[tokio::test]
async fn credentials_in_the_url_are_redacted_in_errors() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut config = ClientConfig::new(&format!("http://admin:{PASSWORD}@127.0.0.1:{port}")).unwrap();
    config.retry = RetryPolicy::none();
    let client = DruidClient::new(&config).unwrap();
    let err = client.supervisors().list().await.unwrap_err();
    for shown in [format!("{config:?}"), err.to_string(), format!("{err:?}")] {
        assert!(!shown.contains(PASSWORD), "password shown in: {shown}");
    }
    assert!(err.to_string().contains("admin:****@127.0.0.1"), "{err}");
}

#[test]
fn a_bad_ca_certificate_is_a_configuration_error() {
    let mut config = ClientConfig::new("https://druid.example:8888").unwrap();
    config.ca_cert_pem = Some(b"not a certificate".to_vec());
    let err = DruidClient::new(&config).unwrap_err();
    assert!(err.to_string().contains("CA certificate"), "{err}");
    assert!(ClientConfig::new("s3://bucket").is_err());
    assert!(ClientConfig::new("not a url").is_err());
}
