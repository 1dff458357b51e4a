"""The published, versioned event contract (version 1): every inbound and outbound event detail.

One module a conversation: ``common`` (tiers, deployment models, field errors), ``signup``, ``lifecycle``,
``release``, and ``sbt``, SBT-AWS's vocabulary, spoken when the pipeline serves as SBT's application plane
(SBT's own contract, with no schema of ours). Each event detail model carries its ``DETAIL_TYPE``;
``catalog`` lists them all, and it is the only thing the schema generator reads (``make schemas`` writes
``schemas/v1``; a contract test fails when the two drift).

This package imports none of its modules: a function imports the ones it speaks, so its cold start builds
only those models. Records and step payloads live in ``records``, ``payloads`` and ``lifecycle_payloads``.
"""
