"""Tests of the Ghost Mailgun proxy example (run on their own, or through the project's tests/)."""
