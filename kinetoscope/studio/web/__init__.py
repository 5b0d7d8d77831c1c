"""The studio's web pages: server-rendered Jinja2 over the same service functions as the API,
with a little JavaScript (live progress over SSE) on top of forms that work without it."""
