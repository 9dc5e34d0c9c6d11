"""Test doubles and generated corpora shared by the unit and integration tests."""
