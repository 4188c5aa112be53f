"""Veeam Backup for AWS DynamoDB backup role operator."""

__version__ = "0.1.0"
