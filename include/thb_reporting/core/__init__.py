"""The domain's vocabulary, which every stage uses: data contracts (contracts/, the one source of columns, types
and code lists), reference data (reference/: teams, code lists, population), quarters, the findings' words
(rules.yaml), privacy (the identifier screen and pseudonyms), written forms of numbers and dates, invisible
characters, configuration, fault points, and the team template generated from a contract.
May import: nothing of the package outside core."""
