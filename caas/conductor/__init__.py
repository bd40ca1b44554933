"""The conductor: second half of the data path.

It consumes the API's casts (``rpcapi``/``manager``), claims the recorded
operation by compare-and-set (``ownership``), and runs the operation's
TaskFlow flow (``engine``, ``flows/``, ``tasks/``) with its state persisted in
the caas database, so another conductor can finish the work if this one dies.
"""
