"""Shared domain package for the tenant-onboarding pipeline (deployed as a Lambda layer)."""

CONTRACT_VERSION = "1"
