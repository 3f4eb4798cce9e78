//! The SQL guard refuses anything but one read-only query over the tenant's own tables.

use taskifai_connectors::lake::Lake;
use taskifai_connectors::query_session::tenant_session;
use taskifai_connectors::TenantId;
use taskifai_engine::sql_guard::plan_read_only;

async fn check(sql: &str) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path().to_str().unwrap()).unwrap();
    let ctx = tenant_session(&lake, &TenantId::demo()).await.unwrap();
    plan_read_only(&ctx, sql, 10)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn queries_run_and_everything_else_is_refused() {
    assert_eq!(
        check("SELECT reseller, sum(quantity) FROM sellout_entries GROUP BY reseller").await,
        Ok(())
    );
    for (sql, why) in [
        ("DROP TABLE sellout_entries", "only SELECT"),
        (
            "INSERT INTO sellout_entries (reseller) VALUES ('x')",
            "only SELECT",
        ),
        (
            "CREATE EXTERNAL TABLE t STORED AS CSV LOCATION '/etc/passwd'",
            "CREATE EXTERNAL TABLE",
        ),
        ("COPY sellout_entries TO '/tmp/out.csv'", "COPY"),
        ("SELECT 1; SELECT 2", "exactly one statement"),
        ("SET datafusion.execution.batch_size = 1", "only SELECT"),
        ("SELECT * FROM '/etc/passwd'", "not found"),
        ("SELECT * FROM read_csv('/etc/passwd')", "read_csv"),
    ] {
        let err = check(sql).await.expect_err(sql);
        assert!(err.contains(why), "{sql}: {err}");
    }
}

#[tokio::test]
async fn an_unknown_table_gets_a_suggestion() {
    let err = check("SELECT * FROM selout_entries").await.unwrap_err();
    assert!(err.contains("did you mean \"sellout_entries\""), "{err}");
}

#[tokio::test]
async fn an_unknown_column_gets_a_suggestion() {
    let err = check("SELECT quantiy FROM sellout_entries")
        .await
        .unwrap_err();
    assert!(err.contains("Did you mean \"quantity\""), "{err}");
}

/// Deep expressions used to overflow the stack and abort the whole server: what a chat writes
/// (a 100-term OR, a 90-term sum) plans; deeper text is refused before any tree is built.
#[tokio::test]
async fn deep_expressions_plan_or_are_refused_without_crashing() {
    let terms = |n: usize, f: &dyn Fn(usize) -> String, sep: &str| {
        (0..n).map(f).collect::<Vec<_>>().join(sep)
    };
    let sum = format!("SELECT {}", terms(90, &|_| "1".into(), "+"));
    assert_eq!(check(&sum).await, Ok(()));
    let or = format!(
        "SELECT count(*) FROM sellout_entries WHERE {}",
        terms(100, &|i| format!("quantity = {i}"), " OR ")
    );
    assert_eq!(check(&or).await, Ok(()));
    let nested = format!("SELECT {}1{}", "(".repeat(20), ")".repeat(20));
    assert_eq!(check(&nested).await, Ok(()));

    let deep = format!("SELECT {}", terms(5000, &|_| "1".into(), "+"));
    let err = check(&deep).await.unwrap_err();
    assert!(err.contains("the limit is 256"), "{err}");
    let long = format!("SELECT '{}'", "x".repeat(100_000));
    assert!(check(&long).await.unwrap_err().contains("bytes"));
}

/// Runs `sql` through the guard and returns its first value as text.
async fn value(sql: &str) -> Result<String, String> {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path().to_str().unwrap()).unwrap();
    let ctx = tenant_session(&lake, &TenantId::demo()).await.unwrap();
    let plan = plan_read_only(&ctx, sql, 10)
        .await
        .map_err(|e| e.to_string())?;
    let batches = ctx
        .execute_logical_plan(plan)
        .await
        .map_err(|e| e.to_string())?
        .collect()
        .await
        .map_err(|e| e.to_string())?;
    let b = &batches[0];
    Ok(datafusion::arrow::util::display::array_value_to_string(b.column(0), 0).unwrap())
}

/// Functions that build large values are charged to a per-query budget before they allocate:
/// `repeat('x', 2000000000)` used to take 2 GB per call and abort the server.
#[tokio::test]
async fn value_building_functions_are_bounded_per_query() {
    assert_eq!(
        value("SELECT length(repeat('ab', 1000))").await,
        Ok("2000".into())
    );
    assert_eq!(value("SELECT lpad('7', 3, '0')").await, Ok("007".into()));
    assert_eq!(value("SELECT 'a' || 'b' || 'c'").await, Ok("abc".into()));
    assert_eq!(
        value("SELECT ('a' || NULL) IS NULL").await,
        Ok("true".into())
    );
    assert_eq!(
        value("SELECT concat('a', NULL, 'b')").await,
        Ok("ab".into())
    );
    assert_eq!(
        value("SELECT count(*) FROM range(1, 11)").await,
        Ok("10".into())
    );
    for sql in [
        "SELECT repeat('x', 2000000000)",
        "SELECT length(lpad('x', 2000000000))",
        "SELECT length(rpad('x', 2000000000, 'y'))",
        "SELECT length(replace(repeat('x', 100000), 'x', repeat('y', 10000)))",
        "WITH t AS (SELECT repeat('x', 100000000) AS x) SELECT length(x || x || x || x) FROM t",
        "WITH t AS (SELECT repeat('x', 100000000) AS x) SELECT length(concat(x, x, x, x)) FROM t",
        "SELECT cardinality(array_repeat('x', 2000000000))",
    ] {
        let err = value(sql).await.expect_err(sql);
        assert!(
            err.contains("a query may build at most 256 MB"),
            "{sql}: {err}"
        );
    }
    let err = value("SELECT range(1, 2000000000)").await.unwrap_err();
    assert!(err.contains("range"), "{err}");
}
