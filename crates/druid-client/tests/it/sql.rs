use druid_client::sql::{ResultFormat, SqlQuery};
use serde::Deserialize;
use serde_json::json;
use wiremock::matchers::{body_json, method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::{druid, fixture, json};

const SQL: &str = "/druid/v2/sql";

#[tokio::test]
async fn parameters_context_and_the_query_id() {
    let (server, client) = druid().await;
    Mock::given(method("POST"))
        .and(path(SQL))
        .and(body_json(json!({
            "query": "SELECT COUNT(*) AS n FROM settlement_transactions WHERE country = ? AND __time > CURRENT_TIMESTAMP - INTERVAL '1' HOUR",
            "resultFormat": "arrayLines",
            "header": true,
            "context": { "sqlQueryId": "probe-1" },
            "parameters": [{ "type": "VARCHAR", "value": "FR" }]
        })))
        .respond_with(ResponseTemplate::new(200).insert_header("X-Druid-SQL-Query-Id", "probe-1").set_body_raw("[\"n\"]\n[1000]\n\n", "application/json"))
        .expect(1)
        .mount(&server)
        .await;
    let mut query = SqlQuery::new("SELECT COUNT(*) AS n FROM settlement_transactions WHERE country = ? AND __time > CURRENT_TIMESTAMP - INTERVAL '1' HOUR")
        .param("VARCHAR", "FR")
        .with_id("probe-1")
        .format(ResultFormat::ArrayLines);
    query.header = true;
    let response = client.sql().query(&query).await.unwrap();
    assert_eq!(response.query_id.as_deref(), Some("probe-1"));
    assert_eq!(response.body, b"[\"n\"]\n[1000]\n\n");
}

#[tokio::test]
async fn typed_rows() {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Row {
        #[serde(rename = "__time")]
        time: String,
        country: String,
        amount_minor: i64,
    }
    let (server, client) = druid().await;
    Mock::given(method("POST"))
        .and(path(SQL))
        .and(body_json(json!({ "query": "SELECT __time, country, amountMinor FROM settlement_transactions LIMIT 2", "resultFormat": "object" })))
        .respond_with(json(200, &fixture!("sql_rows.json")))
        .mount(&server)
        .await;
    let rows: Vec<Row> = client
        .sql()
        .rows(&SqlQuery::new("SELECT __time, country, amountMinor FROM settlement_transactions LIMIT 2"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!((rows[1].country.as_str(), rows[1].amount_minor), ("DE", 990));
    assert!(rows[0].time.starts_with("2026-11-27T10"));
}

#[tokio::test]
async fn csv_is_returned_as_is() {
    let (server, client) = druid().await;
    Mock::given(method("POST"))
        .and(path(SQL))
        .respond_with(ResponseTemplate::new(200).set_body_raw("FR,1250\nDE,990\n", "text/csv"))
        .mount(&server)
        .await;
    let response = client
        .sql()
        .query(&SqlQuery::new("SELECT country, amountMinor FROM t").format(ResultFormat::Csv))
        .await
        .unwrap();
    assert_eq!(response.body, b"FR,1250\nDE,990\n");
}

#[tokio::test]
async fn query_errors_carry_druids_message() {
    let (server, client) = druid().await;
    Mock::given(method("POST"))
        .and(path(SQL))
        .respond_with(json(400, &json!({
            "error": "druidException", "errorCode": "invalidInput", "persona": "USER", "category": "INVALID_INPUT",
            "errorMessage": "Object 'nope' not found (line [1], column [15])", "context": { "sourceType": "sql", "line": "1", "column": "15" }
        })))
        .expect(1)
        .mount(&server)
        .await;
    let err = client.sql().query(&SqlQuery::new("SELECT * FROM nope")).await.unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert!(err.to_string().contains("Object 'nope' not found"), "{err}");
}

#[tokio::test]
async fn cancel_by_query_id() {
    let (server, client) = druid().await;
    Mock::given(method("DELETE"))
        .and(path(format!("{SQL}/probe-1")))
        .respond_with(ResponseTemplate::new(202))
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path(format!("{SQL}/gone")))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    assert!(client.sql().cancel("probe-1").await.unwrap());
    assert!(!client.sql().cancel("gone").await.unwrap());
}
