"""Tests for the customer self-service privacy portal."""
