//! Behaviour of the api-backend over HTTP, against a real MariaDB/MySQL: every test builds the
//! app from the library on a fresh database (`SRMON_TEST_MYSQL_URL`, see `support`) and drives
//! its router.

mod described;
mod support;

mod alerting;
mod auth;
mod compat;
mod exposition;
mod ingest;
mod openapi;
mod ops;
mod outage;
mod queries;
mod storage;
mod streams;
mod thresholds;
