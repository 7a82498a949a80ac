#!/bin/bash
# Runs once, on the first start of the MySQL container: the Debezium connector's user and
# cdc_watch's read-only monitoring user, with the grants `cdc-watch preflight` checks.
# Passwords come from the container environment (set in .env), never from this file.
set -euo pipefail
mysql --protocol=socket -uroot -p"${MYSQL_ROOT_PASSWORD}" <<SQL
CREATE USER IF NOT EXISTS 'debezium'@'%' IDENTIFIED BY '${DEBEZIUM_PASSWORD}';
GRANT SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'debezium'@'%';
CREATE USER IF NOT EXISTS 'cdc_monitor'@'%' IDENTIFIED BY '${CDC_MONITOR_PASSWORD}';
GRANT REPLICATION CLIENT ON *.* TO 'cdc_monitor'@'%';
GRANT SELECT ON mysql.* TO 'cdc_monitor'@'%';  -- SHOW GRANTS FOR the debezium user (preflight)
CREATE TABLE IF NOT EXISTS inventory.customers (
  id INT AUTO_INCREMENT PRIMARY KEY,
  first_name VARCHAR(255) NOT NULL,
  last_name VARCHAR(255) NOT NULL,
  email VARCHAR(255) NOT NULL UNIQUE
);
INSERT IGNORE INTO inventory.customers VALUES
  (1001, 'Sally', 'Thomas', 'sally.thomas@example.com'),
  (1002, 'George', 'Bailey', 'gbailey@example.com');
SQL
