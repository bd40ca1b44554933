"""Flow tasks. Each one re-reads the rows it needs, checks its claim before
any side effect, and is idempotent: it looks before it creates, because the
task that was running when a conductor died runs again elsewhere."""
