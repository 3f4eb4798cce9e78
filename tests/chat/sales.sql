SELECT CAST(coalesce(sale_date, period_start) AS VARCHAR) AS day, reseller, store, channel, country, coalesce(functional_name, vendor_product_name, product_ean) AS product, quantity, CAST(sales_eur AS VARCHAR) AS sales_eur FROM sellout_entries
UNION ALL
SELECT CAST(order_date AS VARCHAR), reseller, NULL, 'online', country, coalesce(functional_name, product_name, product_ean), quantity, CAST(sales_eur AS VARCHAR) FROM ecommerce_orders
