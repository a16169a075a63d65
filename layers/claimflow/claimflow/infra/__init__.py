"""Adapters and the ports they serve: secrets and logs, parameters (SSM), HTTP, egress, boto3."""
