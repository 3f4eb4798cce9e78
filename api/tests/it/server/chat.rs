//! The chat through the API: answers that match the sample files' own totals, follow-ups,
//! names asked back or declined, the event stream, the cache, and conversations nobody else sees.

use super::kit::{micros, sample, Options, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use taskifai_tests::SAMPLE_TOTALS;

async fn chat(s: &TestServer, tenant: &str, token: &str, body: Value) -> (StatusCode, Value) {
    let res = s
        .req(Method::POST, tenant, "/api/chat")
        .bearer_auth(token)
        .header("accept", "application/json")
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn questions_are_answered_from_the_tenants_data_and_remembered_per_user() {
    let s = TestServer::start(Options::default()).await;
    let token = s.admin_token("demo", "owner@bibbi.example").await;
    let files: Vec<_> = SAMPLE_TOTALS.iter().map(|t| sample(t.0)).collect();
    let accepted: Vec<Value> = s
        .upload("demo", &token, &files, &[])
        .await
        .json()
        .await
        .unwrap();
    for a in &accepted {
        s.wait("demo", &token, a["id"].as_str().unwrap()).await;
    }
    // The truth, from the files' own totals (not from the planner).
    let revenue: i128 = SAMPLE_TOTALS.iter().map(|t| micros(t.5)).sum();
    let units: i64 = SAMPLE_TOTALS.iter().map(|t| t.3).sum();

    let (status, total) = chat(
        &s,
        "demo",
        &token,
        json!({ "question": "What were total sales?" }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{total}");
    let reply = &total["reply"];
    assert_eq!(reply["kind"], "answer", "{total}");
    let row = &reply["result"]["rows"][0];
    // Sums come back as JSON numbers: exact to the micro-euro at this size.
    let got = (row["revenue_eur"].as_f64().unwrap() * 1e6).round() as i128;
    assert_eq!(got, revenue, "{row}");
    assert_eq!(row["units"].as_i64().unwrap(), units);
    assert!(reply["sql"].as_str().unwrap().contains("FROM sales"));
    assert_eq!(reply["chart"], "none");
    let conversation = total["conversation_id"].as_i64().unwrap();

    // A follow-up keeps the question and changes the period.
    let (_, april) = chat(
        &s,
        "demo",
        &token,
        json!({ "conversation_id": conversation, "question": "and in April 2025?" }),
    )
    .await;
    assert_eq!(
        april["reply"]["interpretation"]["intent"]["kind"], "total",
        "{april}"
    );
    assert_eq!(
        april["reply"]["interpretation"]["period"]["label"],
        "April 2025"
    );

    // Names: asked back when several fit, declined when none does.
    let (_, skins) = chat(
        &s,
        "demo",
        &token,
        json!({ "question": "How much did Skins sell?" }),
    )
    .await;
    assert_eq!(skins["reply"]["kind"], "ask", "{skins}");
    assert_eq!(
        skins["reply"]["options"],
        json!(["Skins Cosmetics", "Skins Cosmetics NL"])
    );
    for q in [
        "How much did Harrods sell?",
        "Forecast next month's sales",
        "sales of O'Brien'); DROP TABLE users; --",
    ] {
        let (status, r) = chat(&s, "demo", &token, json!({ "question": q })).await;
        assert_eq!(status, StatusCode::OK, "{q}: {r}");
        assert_eq!(r["reply"]["kind"], "decline", "{q}: {r}");
        assert!(r["reply"]["sql"].is_null());
    }

    // The same question on the same data comes from the cache; a new load changes the data.
    let (_, again) = chat(
        &s,
        "demo",
        &token,
        json!({ "question": "what were TOTAL sales" }),
    )
    .await;
    assert_eq!(again["cached"], true, "{again}");
    assert_eq!(again["reply"]["result"], total["reply"]["result"]);

    // The event stream: status, interpretation, sql, rows, answer, done, in that order.
    let text = s
        .req(Method::POST, "demo", "/api/chat")
        .bearer_auth(&token)
        .json(&json!({ "question": "top 3 resellers in April 2025" }))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let events: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("event: "))
        .collect();
    assert_eq!(
        events,
        ["status", "interpretation", "sql", "rows", "answer", "done"],
        "{text}"
    );

    // Conversations are the user's own.
    let mine = s.json("demo", &token, "/api/chat/conversations").await;
    assert!(mine["items"].as_array().unwrap().len() >= 4, "{mine}");
    let turns = s
        .json(
            "demo",
            &token,
            &format!("/api/chat/conversations/{conversation}"),
        )
        .await;
    assert_eq!(turns["messages"].as_array().unwrap().len(), 2, "{turns}");
    let viewer = s
        .user("demo", &token, "viewer@bibbi.example", "viewer")
        .await;
    let theirs = s.json("demo", &viewer, "/api/chat/conversations").await;
    assert_eq!(theirs["items"], json!([]), "{theirs}");
    let peek = s
        .get(
            "demo",
            &viewer,
            &format!("/api/chat/conversations/{conversation}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(peek.status(), StatusCode::NOT_FOUND);
    let (status, _) = chat(
        &s,
        "demo",
        &viewer,
        json!({ "conversation_id": conversation, "question": "and in May?" }),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let delete = s
        .req(
            Method::DELETE,
            "demo",
            &format!("/api/chat/conversations/{conversation}"),
        )
        .bearer_auth(&viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), StatusCode::NOT_FOUND);
    // A viewer may chat.
    let (status, v) = chat(
        &s,
        "demo",
        &viewer,
        json!({ "question": "sales by country in April 2025" }),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["reply"]["chart"], "bar", "{v}");

    // Another tenant sees none of it: no data, no conversation.
    s.tenant("acme").await;
    let acme = s.admin_token("acme", "owner@acme.example").await;
    let (_, empty) = chat(
        &s,
        "acme",
        &acme,
        json!({ "question": "What were total sales?" }),
    )
    .await;
    assert!(
        empty["reply"]["answer"]
            .as_str()
            .unwrap()
            .contains("no sales data loaded"),
        "{empty}"
    );
    // Ids are per tenant database: acme's conversation 1 is its own, with its own turn only.
    let listed = s.json("acme", &acme, "/api/chat/conversations").await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1, "{listed}");
    let id = listed["items"][0]["id"].as_i64().unwrap();
    let turns = s
        .json("acme", &acme, &format!("/api/chat/conversations/{id}"))
        .await;
    assert_eq!(turns["messages"].as_array().unwrap().len(), 1, "{turns}");
    // A demo user's token is refused on acme's host.
    let (status, _) = chat(
        &s,
        "acme",
        &token,
        json!({ "question": "What were total sales?" }),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Deleting one's own conversation.
    let delete = s
        .req(
            Method::DELETE,
            "demo",
            &format!("/api/chat/conversations/{conversation}"),
        )
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), StatusCode::NO_CONTENT);
    s.stop().await;
}
