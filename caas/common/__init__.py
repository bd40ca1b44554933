"""Pieces every caas process shares: exceptions, states, context, RPC, policy."""
