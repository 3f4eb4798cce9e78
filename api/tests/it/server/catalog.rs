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
    import_for(s, "demo", token, kind, query, csv).await
}

async fn import_for(
    s: &TestServer,
    tenant: &str,
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
        .req(Method::POST, tenant, &format!("/api/catalog/{kind}{query}"))
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_unmapped_queue_brings_rejected_rows_back_without_a_new_upload() {
    let s = TestServer::start(Options::default()).await;
    let admin = s.admin_token("demo", "admin@bibbi.example").await;
    let upload = s
        .upload_one(
            "demo",
            &admin,
            super::kit::sample("galilu/BIbbi_sellout_Galilu_2025.xlsx"),
        )
        .await;
    let done = s.wait("demo", &admin, &upload).await;
    assert_eq!(done["rows_rejected"], 1, "{done}");
    let june = "/api/analytics/kpis?from=2025-06-01&to=2025-06-30";
    let units_before = s.json("demo", &admin, june).await["units"]
        .as_i64()
        .unwrap();

    let queue = s.json("demo", &admin, "/api/catalog/unmapped").await;
    let entry = &queue[0];
    let value = "BIBBI Nowy zapach woda perfumowana 50 ml";
    assert_eq!(
        (
            &entry["vendor"],
            &entry["rule"],
            &entry["value"],
            &entry["rows_rejected"]
        ),
        (
            &Value::from("galilu"),
            &Value::from("unknown_product"),
            &Value::from(value),
            &Value::from(1)
        ),
        "{queue}"
    );
    assert_eq!(entry["uploads"], serde_json::json!([upload]));

    // Not a product of the catalog yet: refused, nothing queued.
    let resolve = serde_json::json!({ "vendor": "galilu", "value": value, "ean": "7350154320992" });
    let post = |body: Value| {
        s.req(Method::POST, "demo", "/api/catalog/unmapped/resolve")
            .bearer_auth(&admin)
            .json(&body)
    };
    assert_eq!(
        post(resolve.clone()).send().await.unwrap().status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );

    let products = "ean,functional_name,name\n7350154320992,BBNEW50,Nowy zapach 50 ml\n";
    assert_eq!(
        import(&s, &admin, "products", "", products).await.0,
        StatusCode::OK
    );
    let prices = "price_list,ean,price,currency\ngalilu_pln,7350154320992,549,PLN\n";
    assert_eq!(
        import(&s, &admin, "prices", "", prices).await.0,
        StatusCode::OK
    );
    let res = post(resolve.clone()).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let queued: Value = res.json().await.unwrap();
    assert_eq!(queued[0]["upload"], upload.as_str(), "{queued}");
    assert_eq!(queued[0]["status"], "queued", "{queued}");
    let again = queued[0]["new_upload"].as_str().unwrap().to_owned();
    let redone = s.wait("demo", &admin, &again).await;
    assert_eq!(redone["rows_rejected"], 0, "{redone}");
    assert_eq!(redone["reprocess_of"], upload.as_str());
    assert!(redone["reprocess_reason"]
        .as_str()
        .unwrap()
        .contains("7350154320992"));
    let old = s
        .json("demo", &admin, &format!("/api/uploads/{upload}"))
        .await;
    assert_eq!(old["replaced_by"], again.as_str(), "{old}");

    // The row is in analytics once, in lake and database alike; the queue is empty.
    let units_after = s.json("demo", &admin, june).await["units"]
        .as_i64()
        .unwrap();
    assert_eq!(units_after, units_before + 1);
    let in_db: i64 = sqlx::query_scalar("SELECT coalesce(sum(quantity), 0)::bigint FROM sellout_entries WHERE year = 2025 AND month = 6")
        .fetch_one(&s.db.registry.pool)
        .await
        .unwrap();
    assert_eq!(in_db, units_after);
    assert_eq!(
        s.json("demo", &admin, "/api/catalog/unmapped").await,
        serde_json::json!([])
    );

    // Resolving again changes nothing; a range re-process of an unchanged upload neither.
    let res: Value = post(resolve).send().await.unwrap().json().await.unwrap();
    assert_eq!(res, serde_json::json!([]));
    let res: Value = s
        .req(Method::POST, "demo", "/api/catalog/reprocess")
        .bearer_auth(&admin)
        .json(&serde_json::json!({ "from": "2025-01-01", "to": "2025-12-31" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        res,
        serde_json::json!([{ "upload": again, "status": "unchanged", "new_upload": null }])
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_tenant_loads_pounds_on_the_ecb_rates_until_it_sets_its_own() {
    let s = TestServer::start(Options::default()).await;
    s.empty_tenant("acme").await;
    let admin = s.admin_token("acme", "admin@acme.example").await;
    let products = std::fs::read_to_string(taskifai_tests::repo_path(
        "sample-data/reference/products.csv",
    ))
    .unwrap();
    let (status, body) = import_for(&s, "acme", &admin, "products", "", &products).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let liberty = super::kit::sample("liberty/Continuity Supplier Size Report 27-04-2025.xlsx");
    let upload = s.upload_one("acme", &admin, liberty).await;
    let first = s.wait("acme", &admin, &upload).await;
    assert_eq!(first["status"], "completed", "{first}");
    let local = super::kit::micros(first["sales_local"].as_str().unwrap()) / 100; // scale 4
                                                                                  // April 2025's ECB average for the pound, as EUR per pound.
    let ecb = 1_171_253i128;
    let eur = super::kit::micros(first["sales_eur"].as_str().unwrap());
    // Rows are converted one by one, each rounded to the micro-euro.
    assert!((eur - local * ecb / 10_000).abs() <= 10, "{first}");

    // The tenant's own April rate wins over the default, with no upsert needed.
    let (status, body) = import_for(
        &s,
        "acme",
        &admin,
        "fx_rates",
        "",
        "currency,year,month,rate\nGBP,2025,4,1.2\n",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let res: Value = s
        .req(Method::POST, "acme", "/api/catalog/reprocess")
        .bearer_auth(&admin)
        .json(&serde_json::json!({ "from": "2025-04-01", "to": "2025-04-30" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let again = res[0]["new_upload"]
        .as_str()
        .unwrap_or_else(|| panic!("{res}"))
        .to_owned();
    let second = s.wait("acme", &admin, &again).await;
    let eur = super::kit::micros(second["sales_eur"].as_str().unwrap());
    assert_eq!(eur, local * 12_000 / 100, "{second}");

    // Lake and database agree to the cent.
    let lake: Value = s
        .req(Method::POST, "acme", "/api/query")
        .bearer_auth(&admin)
        .json(&serde_json::json!({ "sql": "SELECT sum(sales_eur) AS eur FROM sellout_entries" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let pool = s
        .state
        .pools
        .pool(&taskifai_connectors::TenantId::parse("acme").unwrap())
        .await
        .unwrap();
    let db: String = sqlx::query_scalar("SELECT sum(sales_eur)::text FROM sellout_entries")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(super::kit::micros(&db), eur);
    let lake_eur = lake["rows"][0][0]
        .as_str()
        .or(lake["rows"][0]["eur"].as_str())
        .unwrap_or_else(|| panic!("{lake}"));
    assert_eq!(super::kit::micros(lake_eur), eur, "{lake}");
    s.stop().await;
}

/// A tenant created from nothing loads every sample format once it has imported its catalog:
/// products, vendor mappings and prices from files, FX from the ECB defaults.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_tenant_loads_every_sample_after_importing_its_catalog() {
    let s = TestServer::start(Options::default()).await;
    s.empty_tenant("acme").await;
    let admin = s.admin_token("acme", "admin@acme.example").await;
    for kind in ["products", "vendor_products", "prices"] {
        let path = taskifai_tests::repo_path(&format!("sample-data/reference/{kind}.csv"));
        let csv = std::fs::read_to_string(path).unwrap();
        let (status, body) = import_for(&s, "acme", &admin, kind, "", &csv).await;
        assert_eq!(status, StatusCode::OK, "{kind}: {body}");
    }
    for (file, ..) in taskifai_tests::SAMPLE_TOTALS {
        let id = s.upload_one("acme", &admin, super::kit::sample(file)).await;
        let done = s.wait("acme", &admin, &id).await;
        assert!(
            done["status"] == "completed" || done["status"] == "completed_with_errors",
            "{file}: {done}"
        );
        let errors = s
            .json("acme", &admin, &format!("/api/uploads/{id}/errors"))
            .await;
        assert!(
            !errors.to_string().contains("missing_fx_rate"),
            "{file}: {errors}"
        );
    }
    s.stop().await;
}

/// Records a loaded monthly upload as the worker would, arrived a few days after its month.
async fn loaded_month(pool: &sqlx::PgPool, vendor: &str, month: u32) {
    let start = chrono::NaiveDate::from_ymd_opt(2025, month, 1).unwrap();
    let end = start.checked_add_months(chrono::Months::new(1)).unwrap() - chrono::Duration::days(1);
    let arrived = end + chrono::Duration::days(4);
    sqlx::query(
        "INSERT INTO upload_batches (id, file_name, sha256, vendor, status, period_start, period_end, period_grain, created_at)
         VALUES ($1, $2, repeat('a', 64), $3, 'completed', $4, $5, 'month', $6::date)",
    )
    .bind(format!("{vendor}{month}"))
    .bind(format!("{vendor} 2025-{month:02}.xlsx"))
    .bind(vendor)
    .bind(start)
    .bind(end)
    .bind(arrived)
    .execute(pool)
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completeness_finds_the_reseller_that_stopped_sending() {
    let s = TestServer::start(Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let admin = s.admin_token("demo", "admin@bibbi.example").await;
    let pool = &s.db.registry.pool;
    for m in 1..=6 {
        loaded_month(pool, "boxnox", m).await;
    }
    for m in [1, 2, 4, 5, 6, 7, 8, 9] {
        loaded_month(pool, "cdlc", m).await;
    }
    let v = s
        .json(
            "demo",
            &admin,
            "/api/analytics/completeness?as_of=2025-10-20",
        )
        .await;
    let resellers = v["resellers"].as_array().unwrap();
    let by = |vendor: &str| {
        resellers
            .iter()
            .find(|r| r["vendor"] == vendor)
            .unwrap()
            .clone()
    };
    let boxnox = by("boxnox");
    assert_eq!(
        (&boxnox["status"], &boxnox["cadence"]),
        (&Value::from("stopped"), &Value::from("month")),
        "{v}"
    );
    let missing: Vec<&str> = boxnox["missing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["period"].as_str().unwrap())
        .collect();
    assert_eq!(missing, vec!["2025-07", "2025-08", "2025-09"]);
    assert_eq!(by("cdlc")["status"], "gaps");

    // The KPIs of August say which reseller's file is missing there.
    let kpis = s
        .json(
            "demo",
            &admin,
            "/api/analytics/kpis?from=2025-08-01&to=2025-08-31",
        )
        .await;
    assert_eq!(
        kpis["missing_files"],
        serde_json::json!([{ "vendor": "boxnox", "periods": ["2025-08"] }]),
        "{kpis}"
    );
    s.stop().await;
}

/// A file refused whole because the catalog lacked its products keeps its error report; its
/// values are in the queue, and once they are mapped the same upload loads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_refused_for_unknown_products_loads_once_they_are_mapped() {
    let s = TestServer::start(Options::default()).await;
    s.empty_tenant("acme").await;
    let admin = s.admin_token("acme", "admin@acme.example").await;
    let reference = |kind: &str| {
        std::fs::read_to_string(taskifai_tests::repo_path(&format!(
            "sample-data/reference/{kind}.csv"
        )))
        .unwrap()
    };
    for kind in ["products", "prices"] {
        let (status, body) = import_for(&s, "acme", &admin, kind, "", &reference(kind)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let galilu = super::kit::sample("galilu/BIbbi_sellout_Galilu_2025.xlsx");
    let upload = s.upload_one("acme", &admin, galilu).await;
    let refused = s.wait("acme", &admin, &upload).await;
    assert_eq!(refused["status"], "failed", "{refused}");
    let errors = s
        .json("acme", &admin, &format!("/api/uploads/{upload}/errors"))
        .await;
    assert_eq!(
        errors["total"], 4,
        "the refused file's report is kept: {errors}"
    );
    let queue = s.json("acme", &admin, "/api/catalog/unmapped").await;
    assert_eq!(queue.as_array().unwrap().len(), 4, "{queue}");
    assert!(queue
        .as_array()
        .unwrap()
        .iter()
        .all(|u| u["uploads"] == serde_json::json!([upload])));

    // The reseller's names mapped as a file, the new product added and mapped from the queue.
    let (status, body) = import_for(
        &s,
        "acme",
        &admin,
        "vendor_products",
        "",
        &reference("vendor_products"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let new = "ean,functional_name,name\n7350154320992,BBNEW50,Nowy zapach 50 ml\n";
    assert_eq!(
        import_for(&s, "acme", &admin, "products", "", new).await.0,
        StatusCode::OK
    );
    let price = "price_list,ean,price,currency\ngalilu_pln,7350154320992,549,PLN\n";
    assert_eq!(
        import_for(&s, "acme", &admin, "prices", "", price).await.0,
        StatusCode::OK
    );
    let res: Value = s
        .req(Method::POST, "acme", "/api/catalog/unmapped/resolve")
        .bearer_auth(&admin)
        .json(&serde_json::json!({ "vendor": "galilu", "value": "BIBBI Nowy zapach woda perfumowana 50 ml", "ean": "7350154320992" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        res,
        serde_json::json!([{ "upload": upload, "status": "queued", "new_upload": upload }])
    );
    let loaded = s.wait("acme", &admin, &upload).await;
    assert_eq!(
        (&loaded["status"], &loaded["rows_rejected"]),
        (&Value::from("completed"), &Value::from(0)),
        "{loaded}"
    );
    assert_eq!(
        s.json("acme", &admin, "/api/catalog/unmapped").await,
        serde_json::json!([])
    );
    s.stop().await;
}
