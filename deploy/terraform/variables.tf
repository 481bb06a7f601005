variable "name" {
  description = "Prefix of every resource, e.g. taskboard-prod."
  type        = string
}

variable "region" {
  description = "AWS region."
  type        = string
  default     = "eu-west-1"
}

variable "vpc_id" {
  description = "VPC of the Kubernetes cluster."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets (at least two zones) for the database and Redis."
  type        = list(string)
}

variable "app_security_group_id" {
  description = "Security group of the app's pods or nodes: the only client allowed in."
  type        = string
}

variable "postgres_version" {
  description = "PostgreSQL major version."
  type        = string
  default     = "16"
}

variable "db_instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.t4g.medium"
}

variable "db_allocated_storage_gb" {
  description = "Initial storage; it grows up to 4 times this on its own."
  type        = number
  default     = 50
}

variable "backup_retention_days" {
  description = "Automated backups kept (point-in-time recovery window)."
  type        = number
  default     = 14
}

variable "redis_node_type" {
  description = "ElastiCache node type."
  type        = string
  default     = "cache.t4g.small"
}
