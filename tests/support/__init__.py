"""Test helpers: fakes at the boundaries (the Bot API, akshare payloads, Bark, a webhook receiver),
harnesses and sample contexts."""
