//! The catalog over HTTP: a bad file is refused with every located error and changes nothing;
//! a good one is imported and the next load uses it; upserts are explicit; exports round-trip.

use super::kit::{Options, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::Value;

async fn import(
    s: &TestServer,
    token: &str,
    kind: &str,
    query: &str,
    csv: &str,
) -> (StatusCode, Value) {
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(csv.as_bytes().to_vec()).file_name(format!("{kind}.csv")),
    );
    let res = s
        .req(Method::POST, "demo", &format!("/api/catalog/{kind}{query}"))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    (res.status(), res.json().await.unwrap_or(Value::Null))
}

async fn export(s: &TestServer, token: &str, kind: &str) -> String {
    let res = s
        .req(Method::GET, "demo", &format!("/api/catalog/{kind}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res.text().await.unwrap()
}

async fn galilu_rejects(s: &TestServer, token: &str) -> i64 {
    let v = s
        .dry_run(token, "galilu/BIbbi_sellout_Galilu_2025.xlsx")
        .await;
    v["rows_rejected"].as_i64().unwrap_or_else(|| panic!("{v}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_files_are_checked_whole_and_used_by_the_next_load() {
    let s = TestServer::start(Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let admin = s.admin_token("demo", "admin@bibbi.example").await;
    let viewer = s
        .user("demo", &admin, "viewer@bibbi.example", "viewer")
        .await;
    let before = export(&s, &viewer, "products").await;
    assert!(
        before.starts_with("ean,functional_name,name,category,launch_date\n"),
        "{before}"
    );

    // Every problem, located; nothing imported.
    let bad = "ean,functional_name,name,launch_date\n\
               7350154320992,BBNEW50,Nowy zapach 50 ml,2025-13-01\n\
               7350154320993,BBNEW100,,\n\
               7350154320992,BBNEW30,,\n\
               7350154320008,BBGOT100X,,\n";
    let (status, body) = import(&s, &admin, "products", "", bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let errors: Vec<(i64, String)> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["row"].as_i64().unwrap(),
                e["column"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        errors,
        vec![
            (2, "launch_date".to_owned()),
            (3, "ean".to_owned()),
            (4, "ean".to_owned()),
            (5, "ean".to_owned()),
        ],
        "{body}"
    );
    assert_eq!(
        export(&s, &viewer, "products").await,
        before,
        "nothing changed"
    );
    let (status, _) = import(&s, &viewer, "products", "", bad).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "viewers do not change the catalog"
    );

    // Galilu's new product: the product, its mapping and its price, then the load takes it.
    assert_eq!(galilu_rejects(&s, &admin).await, 1);
    let (status, body) = import(
        &s,
        &admin,
        "products",
        "",
        "ean,functional_name,name,category,launch_date\n7350154320992,BBNEW50,Nowy zapach 50 ml,Fragrance,2025-05-01\n",
    )
    .await;
    assert_eq!(
        (status, body["inserted"].as_i64()),
        (StatusCode::OK, Some(1)),
        "{body}"
    );
    let mapping = "vendor,match,key,ean\ngalilu,normalized,BIBBI Nowy zapach woda perfumowana 50 ml,7350154320992\n";
    let (status, body) = import(&s, &admin, "vendor_products", "", mapping).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = import(
        &s,
        &admin,
        "prices",
        "",
        "price_list,ean,price,currency\ngalilu_pln,7350154320992,\"549,00\",PLN\n",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(galilu_rejects(&s, &admin).await, 0);

    // A key that exists is an error unless the import says upsert.
    let fix = "price_list,ean,price,currency\ngalilu_pln,7350154320992,599,PLN\n";
    let (status, body) = import(&s, &admin, "prices", "", fix).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("upsert"),
        "{body}"
    );
    let (status, body) = import(&s, &admin, "prices", "?upsert=true", fix).await;
    assert_eq!(
        (status, body["updated"].as_i64()),
        (StatusCode::OK, Some(1)),
        "{body}"
    );
    assert!(export(&s, &viewer, "prices")
        .await
        .contains("galilu_pln,7350154320992,599.0000,PLN"));

    // A price for a product the catalog does not have is refused.
    let (status, body) = import(
        &s,
        &admin,
        "prices",
        "",
        "price_list,ean,price,currency\ngalilu_pln,7350154320985,10,XYZ\n",
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let columns: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["column"].as_str().unwrap())
        .collect();
    assert_eq!(
        columns,
        vec!["currency", "ean"],
        "both problems of the row: {body}"
    );

    // What is exported imports again as the same rows.
    let products = export(&s, &viewer, "products").await;
    let (status, body) = import(&s, &admin, "products", "?upsert=true", &products).await;
    assert_eq!(
        (status, body["inserted"].as_i64()),
        (StatusCode::OK, Some(0)),
        "{body}"
    );
    assert_eq!(export(&s, &viewer, "products").await, products);
    s.stop().await;
}
