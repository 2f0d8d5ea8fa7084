"""Alert delivery: from matches to email and Slack messages people read.

Pure parts (no Kafka, Faust or network): `subscriptions` (the `subscribers:`
and `realert:` schema and its checks), `policy` (routing, flood windows,
digests, quiet hours), `render` (email and Slack content, escaping),
`preview` (one rule and one story file, as `wirewatch alerts` shows them), `simulate`
(what subscribers would have received for past matches, for `wirewatch rules backtest`).  Senders: `email`, `slack`, `console`, tied
together by `delivery`, retried by `retry`.  The Faust stage is `stage`
(`install(app, settings)`); `worker` runs it alone.  See docs/alerts.md.
"""
