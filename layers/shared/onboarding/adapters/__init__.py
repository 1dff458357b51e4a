"""Adapters: the only modules that import boto3 or dulwich. Each translates its errors into domain errors."""
