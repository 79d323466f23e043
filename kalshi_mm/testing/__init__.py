"""Test-support code shared by the test suite (never imported by the daemon at runtime).

Modules here may depend on development-only packages from requirements-dev.txt (e.g. ``jsonschema``).
"""
