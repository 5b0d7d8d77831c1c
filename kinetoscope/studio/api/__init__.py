"""The HTTP API: OpenAI's Videos API shape under /v1, plus our own routes."""
