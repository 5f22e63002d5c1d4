-- The shop's own tables (the samsa_outbox and samsa_inbox tables are samsa's:
-- created by `samsa-relay --init-schema`, see docs/outbox.md).
CREATE TABLE IF NOT EXISTS products (id text PRIMARY KEY, price bigint NOT NULL, stock bigint NOT NULL);
CREATE TABLE IF NOT EXISTS users (id text PRIMARY KEY, balance bigint NOT NULL);
CREATE TABLE IF NOT EXISTS orders (id text PRIMARY KEY, user_id text NOT NULL REFERENCES users (id),
  status text NOT NULL, total bigint NOT NULL, created_at bigint NOT NULL);
CREATE TABLE IF NOT EXISTS order_items (order_id text NOT NULL REFERENCES orders (id), product text NOT NULL,
  quantity bigint NOT NULL, price bigint NOT NULL, PRIMARY KEY (order_id, product));
CREATE TABLE IF NOT EXISTS payments (order_id text PRIMARY KEY, user_id text NOT NULL, amount bigint NOT NULL,
  paid_at bigint NOT NULL);
-- the reference shop's catalogue (docs/shop.md "Seed data"): p1..p20 at 100 * n cents,
-- 1,000,000 each; users u1..u100 with 10,000,000 cents, u91..u100 with 0
INSERT INTO products (id, price, stock)
  SELECT 'p' || n, 100 * n, 1000000 FROM generate_series(1, 20) n ON CONFLICT DO NOTHING;
INSERT INTO users (id, balance)
  SELECT 'u' || n, CASE WHEN n > 90 THEN 0 ELSE 10000000 END FROM generate_series(1, 100) n ON CONFLICT DO NOTHING;
