# Put these into the app's Secret (BASTION_DATABASE_URL, BASTION_REDIS_URL).

output "database_url" {
  description = "BASTION_DATABASE_URL of the app."
  value = format(
    "postgresql+asyncpg://%s:%s@%s/%s",
    aws_db_instance.postgres.username,
    random_password.db.result,
    aws_db_instance.postgres.endpoint,
    aws_db_instance.postgres.db_name,
  )
  sensitive = true
}

output "redis_url" {
  description = "BASTION_REDIS_URL of the app (TLS)."
  value = format(
    "rediss://:%s@%s:6379/0",
    random_password.redis.result,
    aws_elasticache_replication_group.redis.primary_endpoint_address,
  )
  sensitive = true
}
