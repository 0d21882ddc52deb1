"""The event lake and the reports over it: Parquet on S3 (Firehose, Glue, Athena; DuckDB locally)."""
