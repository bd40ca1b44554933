"""The database: caas's records and its only coordination point.

The API writes rows and operations in one transaction before it casts; the
conductors claim operations by compare-and-set and write back status through
writes conditional on their claim (owner + epoch). TaskFlow keeps its flow
state in the same database.
"""
