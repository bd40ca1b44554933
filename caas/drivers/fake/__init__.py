"""The fake COE driver: a tiny stack of no-op resources for flow tests."""
