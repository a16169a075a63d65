"""The functions each of the seed's bindings unlocks, one module per binding (``tokens``,
``fetch``, ``env``, ``auth``). What each binding is (its options, functions, requirements and
IAM) is one row of the table in ``claimflow.binding_table``, which settings, ``claimflow check``
and ``claimflow new`` read without importing these functions.
"""
