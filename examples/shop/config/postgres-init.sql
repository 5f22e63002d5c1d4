-- One database per service (docs/shop.md: each service owns its data), for the
-- production shape (examples/shop/docker-compose.yml). Each service applies the
-- samsa schema and its own tables at start.
CREATE DATABASE orders;
CREATE DATABASE stock;
CREATE DATABASE sink;
CREATE DATABASE receiver;
CREATE DATABASE reservations;
CREATE DATABASE rooms;
